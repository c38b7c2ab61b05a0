"""Fault injection: a lossy link (drop / duplicate / reorder), SIGSTOP of the edge and of the cloud,
kill -9 of the edge mid-skill and its restart. Kill-the-cloud-and-restart is covered by
tests/roboos/master/test_master_recovery.py (resume with the same call id) and the watchdog's kill
trial by tests/edge/test_edge_watchdog.py; these tests add the cases they do not."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest
from reliability_rig import TASK, run_through_proxy, until

from roboos.master.models import StepStatus, TaskStatus
from roboos.reliability.proxy import Faults

TERMINAL = {TaskStatus.succeeded, TaskStatus.failed, TaskStatus.cancelled}


def _assert_clear_end(record) -> None:
    assert record.status in TERMINAL, record.status
    if record.status is not TaskStatus.succeeded:
        assert record.reason, "a task that did not succeed must say why"


def test_duplicated_and_reordered_messages_execute_each_skill_once() -> None:
    async def check(master, world, counts, proxy) -> None:
        task_id = await master.submit(TASK)
        record = await master.wait(task_id, 60)
        assert record.status is TaskStatus.succeeded, record.reason
        assert world.location_of("toy_block") == "bin"
        assert proxy.stats.duplicated > 0 and proxy.stats.reordered > 0
        picks = {k: v for k, v in counts.items() if k[0] == "commit_pick"}
        assert all(v == 1 for v in counts.values()), dict(counts)  # nothing executed twice
        assert sum(picks.values()) == 1

    # ~10 messages cross the proxy during the task: p=0.5 makes "no duplicate at all" a ~0.1% event
    run_through_proxy(Faults(duplicate=0.5, reorder=0.3, delay_s=0.05, seed=1), check)


def test_dropped_messages_end_the_task_in_a_clear_state_without_double_execution() -> None:
    async def check(master, world, counts, proxy) -> None:
        task_id = await master.submit(TASK)
        record = await master.wait(task_id, 80)
        _assert_clear_end(record)
        assert proxy.stats.dropped > 0
        assert counts[("commit_pick", "arm1", "toy_block")] + counts[("commit_pick", "rover1", "toy_block")] <= 1
        assert sum(v for k, v in counts.items() if k[0] == "commit_place") <= 1
        if record.status is TaskStatus.succeeded:
            assert world.location_of("toy_block") == "bin"
        print(f"lossy link: {proxy.stats}; task {record.status.value} {record.reason!r}, replans {record.replans}")

    run_through_proxy(Faults(drop=0.25, duplicate=0.1, reorder=0.1, seed=3), check,
                      cloud=["executor.step_timeout_s=3", "executor.max_step_retries=2"])


def _edge_process(endpoint: str, log: Path, **kw):
    from roboos.master.launch import EdgeProcess

    return EdgeProcess(endpoint, log_path=log, overrides=["heartbeat.interval_s=0.1", "heartbeat.cloud_timeout_s=1.0"], **kw)


@pytest.mark.slow
def test_sigstopped_edge_goes_offline_then_resumes_and_serves() -> None:
    """SIGSTOP an edge process longer than the heartbeat timeout: offline; SIGCONT: back online, works."""
    from reliability_rig import FAST_CLOUD

    from roboos.master.config import load_cloud_config
    from roboos.master.master import Master

    async def main(tmp: Path) -> None:
        master = Master(load_cloud_config(overrides=[*FAST_CLOUD, "heartbeat.timeout_s=0.6"]))
        await master.start()
        edge = _edge_process(master.channel.endpoint, tmp / "edge.log", time_scale=0.0)
        try:
            edge.start()
            await edge.wait_registered(master, ["arm1", "rover1"], timeout=40)
            os.kill(edge.proc.pid, signal.SIGSTOP)
            stopped = time.monotonic()
            await until(lambda: not master.registry.is_online("arm1"), 10, "arm1 offline")
            offline_after = time.monotonic() - stopped
            await asyncio.sleep(1.0)  # well past the 0.6 s timeout
            os.kill(edge.proc.pid, signal.SIGCONT)
            await until(lambda: master.registry.is_online("arm1") and master.registry.is_online("rover1"), 20,
                        "robots back online")
            record = await master.wait(await master.submit(TASK), 40)
            assert record.status is TaskStatus.succeeded, (record.reason, edge.log_tail())
            print(f"SIGSTOP edge: offline after {offline_after * 1000:.0f} ms, back and serving after SIGCONT")
        finally:
            if edge.alive():
                os.kill(edge.proc.pid, signal.SIGCONT)
            await edge.stop()
            await master.stop()

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(Path(tmp)))


@pytest.mark.slow
def test_kill9_edge_mid_skill_restart_ends_in_a_clear_state(tmp_path: Path) -> None:
    """kill -9 the edge process while a skill runs, restart it: the task ends clearly (resumed, replanned
    or failed with a reason), robots are back online, and no step is left running."""
    from reliability_rig import FAST_CLOUD

    from roboos.master.config import load_cloud_config
    from roboos.master.master import Master

    async def main() -> None:
        master = Master(load_cloud_config(overrides=[*FAST_CLOUD, "executor.wait_robot_s=10"]))
        await master.start()
        edges = [_edge_process(master.channel.endpoint, tmp_path / "edge1.log", time_scale=1.0)]
        try:
            edges[0].start()
            await edges[0].wait_registered(master, ["arm1", "rover1"], timeout=40)
            task_id = await master.submit(TASK)

            def running() -> bool:
                plan = master.get_task(task_id).plan
                return bool(plan) and any(s.status is StepStatus.running for s in plan.steps)

            await until(running, 20, "a running step")
            os.kill(edges[0].proc.pid, signal.SIGKILL)
            edges[0].proc.wait(10)
            edges.append(_edge_process(master.channel.endpoint, tmp_path / "edge2.log", time_scale=0.0))
            edges[1].start()
            record = await master.wait(task_id, 60)
            _assert_clear_end(record)
            assert all(s.status is not StepStatus.running for s in record.plan.steps)
            await until(lambda: master.registry.is_online("arm1"), 30, "arm1 back online")
            print(f"kill -9 edge mid-skill + restart: task {record.status.value} ({record.reason!r}), "
                  f"replans {record.replans}")
        finally:
            for edge in edges:
                await edge.stop()
            await master.stop()

    asyncio.run(main())


@pytest.mark.slow
def test_sigstopped_cloud_mid_skill_watchdog_stops_robot_then_cloud_resumes(tcp_endpoint: str) -> None:
    """SIGSTOP the cloud (TCP stays open, nothing is said) while a robot drives: the edge watchdog stops it
    within its motion timeout; after SIGCONT the same cloud gets the call's result and the stop report."""
    from roboos.edge.agent import EdgeAgent
    from roboos.edge.config import RobotConfig
    from roboos.edge.robots import make_robot
    from roboos.edge.watchdog import WatchdogConfig, attach_watchdog

    from roboos.bench.channel_procs import ServerProcess

    async def main() -> None:
        loop = asyncio.get_running_loop()
        robot = make_robot(RobotConfig(name="rover1", kind="sim_mobile_manipulator", options={"speed_m_s": 0.5}),
                           time_scale=1.0)
        stops: list[float] = []
        real_stop = robot.stop
        robot.stop = lambda: (stops.append(time.monotonic()), real_stop())[1]  # type: ignore[method-assign]
        agent = EdgeAgent(robot, tcp_endpoint, heartbeat_interval_s=0.1, cloud_timeout_s=5.0)
        dog = attach_watchdog(agent, WatchdogConfig(motion_timeout_s=0.2))
        runner = asyncio.create_task(agent.run())
        cloud = await loop.run_in_executor(None, lambda: ServerProcess(
            "roboos.bench.watchdog_cloud", tcp_endpoint, "rover1", "navigate", "coffee_table"))
        lines: list[str] = []
        reader = loop.run_in_executor(None, lambda: [lines.append(x) for x in iter(cloud.proc.stdout.readline, "")])
        try:
            await until(lambda: any(c.body.skill == "navigate" for c in agent.running.values()), 20, "navigate")
            await asyncio.sleep(0.3)
            assert not stops
            os.kill(cloud.proc.pid, signal.SIGSTOP)
            paused = time.monotonic()
            await until(lambda: bool(stops), 5, "the watchdog stop")
            stop_after = stops[0] - paused
            await asyncio.sleep(1.5)  # longer than the cloud's 1 s heartbeat timeout
            os.kill(cloud.proc.pid, signal.SIGCONT)
            await until(lambda: any(x.startswith("EVENT ") for x in lines), 20, "the stop report at the cloud")
            await until(lambda: any(x.startswith(("RESULT ", "CALLERR ")) for x in lines), 20, "the call's end")
            event = json.loads(next(x for x in lines if x.startswith("EVENT "))[6:])
            assert event["kind"] == "watchdog_stop" and event["data"]["skills"] == ["navigate"]
            end = next(x for x in lines if x.startswith(("RESULT ", "CALLERR ")))
            if end.startswith("RESULT "):
                assert json.loads(end[7:])["ok"] is False  # the drive did not silently "succeed"
            assert stop_after < 2.0  # the 0.2 s motion timeout tripped, not the 5 s link timeout
            print(f"SIGSTOP cloud: robot stopped {stop_after * 1000:.0f} ms after the pause; {end.strip()[:120]}")
        finally:
            if cloud.proc.poll() is None:
                os.kill(cloud.proc.pid, signal.SIGCONT)
            await agent.stop()
            await asyncio.wait_for(runner, 10)
            await dog.stop()
            await loop.run_in_executor(None, cloud.close)
            await asyncio.wait_for(reader, 10)

    asyncio.run(main())
