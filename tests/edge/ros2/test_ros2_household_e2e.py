"""The ROS 2 arm in the household scene: skills, `roboos ros2 bridge`, and `roboos run` end to end."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from ros2_testlib import COMMAND_TOPIC, JOINTS, STATE_TOPIC, wait_until

ARM_OPTIONS = {
    "joints": JOINTS,
    "joint_state_topic": STATE_TOPIC,
    "trajectory_topic": COMMAND_TOPIC,
    "max_velocity": 8.0,
    "min_move_s": 0.1,
    "stale_after_s": 0.5,
    "controller_wait_s": 5.0,
    "poses": {"home": [0.0] * 6, "shelf": [0.5, 0.4, -0.6, 0.3, 0.0, 0.1]},
}


def edge_config(tmp_path: Path, with_rover: bool = True) -> Path:
    robots = [{"name": "arm1", "kind": "ros2_household_arm", "options": ARM_OPTIONS}]
    if with_rover:
        robots.append({"name": "rover1", "kind": "sim_mobile_manipulator"})
    path = tmp_path / "edge_ros2_test.yaml"
    path.write_text(yaml.safe_dump({"cloud": "tcp://127.0.0.1:7700", "time_scale": 0, "robots": robots}))
    return path


def run_skill(robot, name: str, args: dict):
    spec = next(s for s in robot.skills() if s.name == name)
    return asyncio.run(spec.run(args, robot=robot))


def test_household_skills_move_the_real_controller(controller, tmp_path) -> None:
    from roboos.edge.config import load_edge_config
    from roboos.edge.robots import make_robots

    cfg = load_edge_config(edge_config(tmp_path, with_rover=False))
    robot = make_robots(cfg.robots, scene=cfg.scene, time_scale=0)[0]
    robot.connect()
    try:
        wait_until(lambda: robot.ros.controller_connected() and not robot.get_state().extra["stale"])
        assert {"pick", "place", "move_joints", "execute_action_chunk"} <= {s.name for s in robot.skills()}
        picked = run_skill(robot, "pick", {"object": "screwdriver"})
        assert picked.ok, picked.error
        placed = run_skill(robot, "place", {"target": "shelf"})
        assert placed.ok, placed.error
        assert robot.world.describe("screwdriver")["where"] == "shelf"
        # each reach went out to the place's joint pose and back home on the controller
        finals = [np.array(m.points[-1].positions) for m in controller.received if m.points]
        assert len(finals) >= 4
        assert any(np.allclose(f, ARM_OPTIONS["poses"]["shelf"], atol=1e-6) for f in finals)
        np.testing.assert_allclose(controller.positions, 0.0, atol=0.02)
        state = robot.get_state()
        assert state.location == "workbench" and state.holding is None and state.extra["backend"] == "ros2"
        unreachable = run_skill(robot, "place", {"target": "fridge"})
        assert not unreachable.ok
    finally:
        robot.disconnect()


def _cli_env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


def test_ros2_bridge_command_serves_skills_as_services(controller, tmp_path) -> None:
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from test_ros2_skills_over_ros import call_json_service

    log = tmp_path / "bridge.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "roboos.cli.main",
                "ros2",
                "bridge",
                "--robot",
                "arm1",
                "--no-cloud",
                "--config",
                str(edge_config(tmp_path)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_cli_env(),
            start_new_session=True,
        )
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node("bridge_cli_test_client", context=context)
    node.test_executor = SingleThreadedExecutor(context=context)
    try:
        reply = call_json_service(
            node, "/arm1/skills/move_joints", json.dumps({"positions": {"wrist_3": 0.2}}), timeout=30
        )
        assert reply.success, reply.message
        assert controller.positions[5] == pytest.approx(0.2, abs=0.02)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0, log.read_text()
        text = log.read_text()
        assert "ROS 2 bridge: arm1 (no cloud)" in text and STATE_TOPIC in text
    finally:
        node.test_executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_bridge_refuses_a_non_ros_robot(tmp_path) -> None:
    from typer.testing import CliRunner

    from roboos.cli.main import app

    result = CliRunner().invoke(
        app, ["ros2", "bridge", "--robot", "rover1", "--config", str(edge_config(tmp_path))]
    )
    assert result.exit_code == 2 and "not a ROS 2 kind" in " ".join(result.stderr.split())
    missing = CliRunner().invoke(
        app, ["ros2", "bridge", "--robot", "ghost", "--config", str(edge_config(tmp_path))]
    )
    assert missing.exit_code == 2 and "no robot 'ghost'" in " ".join(missing.stderr.split())


def test_roboos_run_end_to_end_through_the_bridge(controller, tmp_path) -> None:
    """`roboos run` → master → edge agent (ROS 2 household arm + sim rover) → bridge → test controller."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "roboos.cli.main",
            "run",
            "put the screwdriver on the shelf and bring the apple to the dining table",
            "--edge-config",
            str(edge_config(tmp_path)),
            "--time-scale",
            "0",
            "--timeout",
            "90",
        ],
        capture_output=True,
        text=True,
        timeout=150,
        env=_cli_env(),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "task succeeded" in proc.stdout
    arm_trajectories = [m for m in controller.received if m.points]
    assert len(arm_trajectories) >= 4  # pick and place: out to the pose and back, each
    shelf = ARM_OPTIONS["poses"]["shelf"]  # commanded (a hold under load may end a trajectory early)
    assert any(np.allclose(p.positions, shelf, atol=1e-3) for m in arm_trajectories for p in m.points)
    np.testing.assert_allclose(controller.positions, 0.0, atol=0.02)  # back home
