"""A published skill package travels store -> gRPC -> edge skills_dir -> edge agent -> master call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from roboos.edge.config import load_edge_config
from roboos.edge.robots import make_robots
from roboos.edge.runner import build_agents, robot_registry
from roboos.skills.store import SkillStore, install_archive
from skillstore_testlib import publish_source_package

from roboos.master.config import load_cloud_config
from roboos.master.launch import start_cloud

PKG = '''
from roboos.robot import Robot
from roboos.skills import skill


@skill(embodiments=["mobile_manipulator"])
def wave(robot: Robot, times: int = 1) -> dict:
    """Wave the gripper to greet someone."""
    return {"waved": times, "robot": robot.name}
'''


def _publish(tmp: Path) -> Path:
    return publish_source_package(tmp, "greetings", PKG, embodiments=["mobile_manipulator"])


def test_installed_package_is_offered_next_to_the_robots_own_skills(tmp_path: Path) -> None:
    store = SkillStore(_publish(tmp_path))
    store.install("greetings", tmp_path / "skills")
    store.close()
    config = load_edge_config(overrides=[f"robots.1.skills_dir={tmp_path / 'skills'}"])
    arm, rover = make_robots(config.robots, scene=config.scene, time_scale=0)
    assert "wave" in robot_registry(rover, config.robots[1])
    assert "wave" not in robot_registry(arm, config.robots[0])  # no skills_dir on the arm


@pytest.mark.timeout(120)
def test_cloud_serves_the_store_and_the_master_calls_an_installed_skill(tmp_path: Path) -> None:
    import grpc

    from roboos.controlplane.gen import skillstore_pb2 as pb
    from roboos.controlplane.gen import skillstore_pb2_grpc as pb_grpc

    store_path = _publish(tmp_path)
    cloud_cfg = load_cloud_config(overrides=[
        "bind=tcp://127.0.0.1:0", "control_plane.bind=127.0.0.1:0", f"control_plane.skill_store={store_path}",
        "memory.backend=local", "dashboard.enabled=false", "heartbeat.interval_s=0.1"])

    async def scenario() -> tuple[list[str], dict]:
        stack = await start_cloud(cloud_cfg, dashboard=False)
        try:
            address = stack.control_plane.address
            async with grpc.aio.insecure_channel(address) as channel:
                got = await pb_grpc.SkillStoreServiceStub(channel).Get(
                    pb.GetRequest(name="greetings", with_archive=True), timeout=30)
            install_archive(got.archive, tmp_path / "edge-skills")
            edge_cfg = load_edge_config(overrides=[
                f"cloud={stack.master.channel.endpoint}", f"robots.1.skills_dir={tmp_path / 'edge-skills'}",
                "time_scale=0"])
            agents = build_agents(edge_cfg)
            runs = [asyncio.create_task(a.run()) for a in agents]
            try:
                for _ in range(200):
                    robots = {r.name: r for r in stack.master.list_robots()}
                    if "rover1" in robots and robots["rover1"].online:
                        break
                    await asyncio.sleep(0.05)
                skills = [c.name for c in robots["rover1"].skills]
                reply = await stack.master.channel.call("rover1", {"skill": "wave", "args": {"times": 2}}, timeout=10)
                return skills, reply.body
            finally:
                for agent in agents:
                    await agent.stop()
                await asyncio.gather(*runs, return_exceptions=True)
        finally:
            await stack.stop()

    skills, result = asyncio.run(scenario())
    assert "wave" in skills and "navigate" in skills
    assert result["ok"] and result["value"] == {"waved": 2, "robot": "rover1"}
