"""Cloud and edge agents in separate processes over TCP loopback.

1. The master in this process, the sim robots in a `roboos edge` child process: a task runs across the
   process boundary; killing the edge process (SIGKILL, no BYE) marks its robots offline by heartbeat
   timeout and they get no new work.
2. `roboos up` (cloud + control plane + edge child) as a process, driven through the gRPC control plane.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from master_rig import FAST_CLOUD, free_port, wait_until

from roboos.master.config import load_cloud_config
from roboos.master.launch import EdgeProcess
from roboos.master.master import Master
from roboos.master.models import TaskStatus


def test_master_with_edge_process_and_heartbeat_timeout(tmp_path: Path) -> None:
    async def main() -> None:
        master = Master(load_cloud_config(overrides=FAST_CLOUD))
        await master.start()
        edge = EdgeProcess(master.channel.endpoint, time_scale=0.0, log_path=tmp_path / "edge.log",
                           overrides=["heartbeat.interval_s=0.1"])
        try:
            edge.start()
            await edge.wait_registered(master, ["arm1", "rover1"], timeout=30)
            task_id = await master.submit("put the screwdriver on the shelf and bring the apple to the dining table")
            record = await master.wait(task_id, 30)
            assert record.status is TaskStatus.succeeded, record.reason
            assert master.world.snapshot()["objects"]["apple"]["location"] == "dining_table"
            assert edge.proc is not None
            os.kill(edge.proc.pid, signal.SIGKILL)  # no BYE: only the missing heartbeats tell
            await wait_until(lambda: not any(r.online for r in master.list_robots()), timeout=10,
                             what="heartbeat timeout")
            record = await master.wait(await master.submit("put the toy block in the bin"), 10)
            assert record.status is TaskStatus.failed and "no online robot" in record.reason
        finally:
            await edge.stop()
            await master.stop()

    asyncio.run(main())


@pytest.fixture
def roboos_up(tmp_path: Path) -> Iterator[str]:
    """`roboos up` on free ports; yields the control-plane address; SIGINT + wait (kill as a last resort)."""
    zmq_port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "roboos.cli.main", "up", "--set", f"bind=tcp://127.0.0.1:{zmq_port}",
         "--set", f"control_plane.bind=127.0.0.1:{grpc_port}", "--set", f"memory.path={tmp_path / 'cloud.db'}",
         "--time-scale", "0", "--log-level", "WARNING"],
        stdout=open(tmp_path / "up.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "sim robots online" not in (tmp_path / "up.log").read_text(errors="replace"):
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, "roboos up did not come up"
            time.sleep(0.1)
        yield f"127.0.0.1:{grpc_port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_roboos_up_serves_tasks_over_the_control_plane(roboos_up: str) -> None:
    from roboos.controlplane.client import ControlClient

    with ControlClient(roboos_up) as client:
        robots = {r.name: r for r in client.robots()}
        assert robots["arm1"].online and robots["rover1"].embodiment == "mobile_manipulator"
        task_id = client.submit("put the toy block in the bin and bring the banana to the sink")
        events = list(client.watch(task_id))
        assert events[-1].status is TaskStatus.succeeded, events[-1].message
        assert {s.robot for s in client.get_task(task_id).plan.steps} == {"arm1", "rover1"}
    proc = subprocess.run([sys.executable, "-m", "roboos.cli.main", "task", "submit", "put the red cup in the bin",
                           "--address", roboos_up, "--watch"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_killed_edge_process_work_is_reassigned(tmp_path: Path) -> None:
    """One `roboos edge` process per robot; SIGKILL the arm's mid-task: the rover takes over its work."""

    async def main() -> None:
        master = Master(load_cloud_config(overrides=FAST_CLOUD))
        await master.start()
        arm = EdgeProcess(master.channel.endpoint, robots=["arm1"], time_scale=1.0, log_path=tmp_path / "arm.log",
                          overrides=["heartbeat.interval_s=0.1"])
        rover = EdgeProcess(master.channel.endpoint, robots=["rover1"], time_scale=0.0, log_path=tmp_path / "rover.log",
                            overrides=["heartbeat.interval_s=0.1"])
        try:
            arm.start()
            rover.start()
            await arm.wait_registered(master, ["arm1"], timeout=30)
            await rover.wait_registered(master, ["rover1"], timeout=30)
            task_id = await master.submit("put the toy block in the bin")
            await wait_until(lambda: any(s.status.value == "running" for s in
                                         (master.get_task(task_id).plan.steps if master.get_task(task_id).plan else [])),
                             what="the arm's first step")
            assert arm.proc is not None
            os.kill(arm.proc.pid, signal.SIGKILL)
            record = await master.wait(task_id, 30)
            assert record.status is TaskStatus.succeeded, record.reason
            assert record.replans >= 1 and {s.robot for s in record.plan.steps} == {"rover1"}
            assert master.world.snapshot()["objects"]["toy_block"]["location"] == "bin"
            assert not master.registry.is_online("arm1")
        finally:
            await arm.stop()
            await rover.stop()
            await master.stop()

    asyncio.run(main())
