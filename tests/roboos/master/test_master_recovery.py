"""Memory in the master: the world survives restarts, history records each task, unfinished tasks are
resumed (interrupted calls re-sent with their ids) or failed after a restart — in-process and with a
real `roboos cloud` process killed mid-task."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from master_rig import MasterRig, free_port, run_master

from roboos.master.models import Plan, Step, StepStatus, TaskRecord, TaskStatus
from roboos.memory import open_memory

DEMO = "put the screwdriver on the shelf and bring the apple to the dining table"


def sqlite(tmp_path: Path) -> list[str]:
    return ["memory.backend=sqlite", f"memory.path={tmp_path / 'cloud.db'}"]


def test_world_and_tasks_survive_a_restart_and_history_has_the_timeline(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    async def first(rig: MasterRig) -> None:
        record, events = await rig.run_task(DEMO)
        assert record.status is TaskStatus.succeeded
        seen["task"] = record.id
        seen["events"] = events
        history = rig.master.persistence.history
        timeline = history.query(task=record.id, limit=10_000)
        assert [e.data["seq"] for e in timeline] == [e.seq for e in events], "every task event is in the history"
        kinds = {e.kind for e in timeline}
        assert {"task.status", "task.plan", "task.step"} <= kinds
        steps = [e for e in timeline if e.kind == "task.step" and e.data["step"]["status"] == "succeeded"]
        assert {e.robot for e in steps} == {"arm1", "rover1"} and steps[0].data["step"]["result"]["effects"]
        assert history.query(robot="rover1", kind="robot.online"), "robot arrivals are recorded"
        graph = rig.master.world.scene_graph()
        assert ("apple", "on", "dining_table") in graph["edges"] and ("rover1", "at", "dining_table") in graph["edges"]
        rover = rig.master.persistence.memory.get("robot", "rover1").value
        assert rover["online"] is True and rover["current_step"] is None and rover["embodiment"] == "mobile_manipulator"

    async def second(rig: MasterRig) -> None:
        world = rig.master.world.snapshot()
        assert world["objects"]["apple"]["location"] == "dining_table", "the world model was kept"
        task = rig.master.get_task(str(seen["task"]))
        assert task.status is TaskStatus.succeeded and task.plan is not None
        replay = [e async for e in rig.master.watch(task.id)]
        assert replay == seen["events"], "the event stream of a past task is rebuilt from the history"

    run_master(first, cloud=sqlite(tmp_path))
    run_master(second, cloud=sqlite(tmp_path))

    async def fresh(rig: MasterRig) -> None:
        assert rig.master.world.snapshot()["objects"]["apple"]["location"] == "kitchen_counter"

    run_master(fresh, cloud=[*sqlite(tmp_path), "memory.reset_world=true"])


def interrupted_task(config) -> None:  # noqa: ANN001
    """Leave the memory as a cloud killed during step s1 would: task running, s1 running with a call id."""
    memory = open_memory(config.memory)
    plan = Plan(planner="offline rule-based planner", steps=[
        Step(id="s1", robot="arm1", skill="pick", args={"object": "toy_block"}, status=StepStatus.running,
             attempts=1, call_id="call-0001", started_at=time.time()),
        Step(id="s2", robot="arm1", skill="place", args={"target": "bin"}, depends_on=["s1"])])
    record = TaskRecord(id="t-crash", instruction="put the toy block in the bin", status=TaskStatus.running, plan=plan)
    memory.put("task", record.id, record.model_dump(mode="json"))
    memory.close()


def test_unfinished_task_is_resumed_with_the_same_call_id(tmp_path: Path) -> None:
    async def check(rig: MasterRig) -> None:
        record = await rig.master.wait("t-crash", 20)
        assert record.status is TaskStatus.succeeded, record.reason
        s1 = record.plan.steps[0]
        assert s1.call_id == "call-0001" and s1.attempts == 1, "the interrupted call was re-sent, not a new one"
        messages = [e.message for e in rig.master.persistence.task_events("t-crash")]
        assert "resuming after a cloud restart" in messages
        assert rig.world.location_of("toy_block") == "bin"

    run_master(check, cloud=sqlite(tmp_path), before_start=interrupted_task)


def test_unfinished_task_fails_explicitly_when_recovery_is_fail(tmp_path: Path) -> None:
    async def check(rig: MasterRig) -> None:
        record = await rig.master.wait("t-crash", 5)
        assert record.status is TaskStatus.failed
        assert record.reason == "the cloud restarted while the task was running; not resumed (memory.recovery=fail)"
        assert rig.world.location_of("toy_block") == "workbench", "nothing was re-run"

    run_master(check, cloud=[*sqlite(tmp_path), "memory.recovery=fail"], before_start=interrupted_task)


def test_replans_get_the_recent_history(tmp_path: Path) -> None:
    requests = []

    class Recorder:
        name = "recording offline planner"

        def __init__(self) -> None:
            from roboos.master.planning import OfflinePlanner

            self.inner = OfflinePlanner()

        async def plan(self, request):  # noqa: ANN001, ANN201
            requests.append(request)
            return await self.inner.plan(request)

    async def check(rig: MasterRig) -> None:
        rig.world.inject_failure("pick", times=2, robot="arm1", message="gripper slipped")
        record, _ = await rig.run_task("put the screwdriver in the bin")
        assert record.status is TaskStatus.succeeded and record.replans == 1
        replan = requests[-1]
        assert replan.replan == 1 and replan.failed_step.robot == "arm1"
        assert "gripper slipped" in replan.error["message"]
        assert any("gripper slipped" in line for line in replan.history), replan.history
        assert replan.world["objects"]["screwdriver"]["location"] == "workbench"

    run_master(check, cloud=sqlite(tmp_path), planner=Recorder())


@pytest.mark.slow
def test_killed_cloud_process_resumes_the_task_after_restart(tmp_path: Path) -> None:
    """`roboos cloud` (SQLite) + `roboos edge` processes; SIGKILL the cloud mid-task, start it again."""
    from roboos.controlplane.client import ControlClient
    from roboos.master.launch import EdgeProcess

    zmq_port, grpc_port = free_port(), free_port()
    args = [sys.executable, "-m", "roboos.cli.main", "cloud", "--set", f"bind=tcp://127.0.0.1:{zmq_port}",
            "--set", f"control_plane.bind=127.0.0.1:{grpc_port}", *sum((["--set", o] for o in sqlite(tmp_path)), []),
            "--set", "memory.recovery_wait_s=20", "--log-level", "WARNING"]

    def start_cloud(n: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(args, stdout=open(tmp_path / f"cloud{n}.log", "wb"), stderr=subprocess.STDOUT,
                                start_new_session=True)

    clouds = [start_cloud(1)]
    edge = EdgeProcess(f"tcp://127.0.0.1:{zmq_port}", time_scale=0.5, log_path=tmp_path / "edge.log")
    try:
        edge.start()
        with ControlClient(f"127.0.0.1:{grpc_port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while not _both_online(client):
                assert time.monotonic() < deadline, (tmp_path / "cloud1.log").read_text()
                time.sleep(0.2)
            task_id = client.submit(DEMO)
            for event in client.watch(task_id):  # wait for the first finished step, then crash the cloud
                if event.kind == "step" and event.step.status is StepStatus.succeeded:
                    break
        os.killpg(clouds[0].pid, signal.SIGKILL)
        clouds[0].wait(10)
        clouds.append(start_cloud(2))
        with ControlClient(f"127.0.0.1:{grpc_port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    events = list(client.watch(task_id))
                    break
                except Exception:  # noqa: BLE001 - the new cloud is still starting
                    assert time.monotonic() < deadline, (tmp_path / "cloud2.log").read_text()
                    time.sleep(0.3)
            record = client.get_task(task_id)
        assert record.status is TaskStatus.succeeded, (record.reason, (tmp_path / "cloud2.log").read_text())
        assert any(e.message == "resuming after a cloud restart" for e in events)
        assert all(s.status is StepStatus.succeeded for s in record.plan.steps) or record.replans >= 1
    finally:
        for cloud in clouds:
            if cloud.poll() is None:
                cloud.send_signal(signal.SIGINT)
                try:
                    cloud.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(cloud.pid, signal.SIGKILL)
        asyncio.run(edge.stop())


def _both_online(client) -> bool:  # noqa: ANN001
    from roboos.controlplane.errors import ControlPlaneError

    try:
        robots = client.robots()
    except ControlPlaneError:  # the cloud process is still starting
        return False
    return len(robots) == 2 and all(r.online for r in robots)


@pytest.mark.redis
def test_two_cloud_masters_share_one_redis_memory(redis_url: str) -> None:
    """The world a master changes is what another master process on the same Redis reads."""
    import uuid

    from roboos.master.config import load_cloud_config
    from roboos.master.master import Master

    redis = ["memory.backend=redis", f"memory.redis_url={redis_url}", f"memory.namespace=t{uuid.uuid4().hex[:8]}"]

    async def check(rig: MasterRig) -> None:
        other = Master(load_cloud_config(overrides=["bind=tcp://127.0.0.1:0", "control_plane.enabled=false", *redis]))
        try:
            assert other.world.snapshot()["objects"]["apple"]["location"] == "kitchen_counter"
            record, _ = await rig.run_task("bring the apple to the sink")
            assert record.status is TaskStatus.succeeded
            assert other.world.snapshot()["objects"]["apple"]["location"] == "sink"
            assert other.persistence.memory.get("task", record.id).value["status"] == "succeeded"
            assert other.world.snapshot()["robots"]["rover1"]["location"] == "sink"
            assert [e.kind for e in other.persistence.history.query(task=record.id, limit=3)] == \
                ["task.status", "task.status", "task.plan"]
        finally:
            await other.stop()

    run_master(check, cloud=[*redis, "memory.reset_world=true"])


def test_many_robots_stream_state_into_their_own_memory_entries(tmp_path: Path) -> None:
    """24 simulated robots drive at once; each robot's memory entry ends with its own place (SQLite)."""
    from roboos.edge.config import EdgeConfig, RobotConfig
    from roboos.edge.runner import build_agents
    from roboos.edge.watchdog import WatchdogConfig
    from roboos.master.config import load_cloud_config
    from roboos.master.master import Master

    places = ["workbench", "shelf", "bin", "kitchen_counter", "sink", "fridge", "drawer", "dining_table", "coffee_table"]

    async def main() -> None:
        master = Master(load_cloud_config(overrides=["bind=tcp://127.0.0.1:0", "control_plane.enabled=false",
                                                     *sqlite(tmp_path)]))
        await master.start()
        # 24 agents and the master share this one process and loop: on a loaded CI worker (whose heap may
        # hold torch from earlier tests, so a full GC pass takes hundreds of ms) the 200 ms motion watchdog
        # would stop the robots mid-drive. Watchdog timing has its own tests; this one is about memory.
        config = EdgeConfig(cloud=master.channel.endpoint, time_scale=0.02, state_rate_hz=50,
                            watchdog=WatchdogConfig(motion_timeout_s=3.0),
                            robots=[RobotConfig(name=f"bot{i}", kind="sim_mobile_manipulator", options={"at": "dock"})
                                    for i in range(24)])
        agents = build_agents(config)
        runs = [asyncio.create_task(a.run()) for a in agents]
        try:
            assert not await master.registry.wait_for([a.name for a in agents], 20)
            replies = await asyncio.gather(*(master.channel.call(f"bot{i}", {"skill": "navigate",
                                                                             "args": {"target": places[i % 9]}})
                                             for i in range(24)))
            assert all(r.body["ok"] for r in replies)
            deadline = time.monotonic() + 10
            while True:
                robots = master.persistence.memory.values("robot")
                if all(robots.get(f"bot{i}", {}).get("location") == places[i % 9] for i in range(24)):
                    break
                assert time.monotonic() < deadline, {n: r.get("location") for n, r in robots.items()}
                await asyncio.sleep(0.05)
            assert all(robots[f"bot{i}"]["online"] is True for i in range(24))
        finally:
            for agent in agents:
                await agent.stop()
            await asyncio.gather(*runs, return_exceptions=True)
            await master.stop()

    gc.freeze()  # objects from earlier tests stay out of this test's collections (see the comment above)
    try:
        asyncio.run(main())
    finally:
        gc.unfreeze()


def test_graceful_stop_suspends_tasks_and_the_next_start_resumes_them(tmp_path: Path) -> None:
    from roboos.master.master import Master

    async def check(rig: MasterRig) -> None:
        first = rig.master
        task_id = await first.submit("bring the apple to the dining table")
        while not rig.agent("rover1").running:
            await asyncio.sleep(0.01)
        await first.stop()  # e.g. Ctrl-C on `roboos cloud`: the task is suspended, not cancelled
        second = Master(first.config)
        await second.start()  # same port: the edges re-register on their own
        try:
            record = await second.wait(task_id, 30)
            assert record.status is TaskStatus.succeeded, record.reason
            assert any(e.message == "resuming after a cloud restart" for e in second.persistence.task_events(task_id))
            assert rig.world.location_of("apple") == "dining_table"
        finally:
            await second.stop()

    run_master(check, cloud=[*sqlite(tmp_path), f"bind=tcp://127.0.0.1:{free_port()}"], time_scale=0.2)
