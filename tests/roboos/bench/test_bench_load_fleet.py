"""The load generator's agents are real protocol peers of a real Master: they register, stream STATE,
answer calls once per call id; and the master keeps only a bounded number of finished tasks in RAM
while every task stays readable from its memory store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from roboos.bench.load_edges import SKILL, LoadFleet, robot_name
from roboos.master.config import load_cloud_config
from roboos.master.master import Master
from roboos.master.models import Plan, Step, TaskStatus
from roboos.master.planning.validate import PlanValidationError


def _with_fleet(check: Callable[[Master, LoadFleet], Awaitable[None]], tmp_path: Path, agents: int = 3) -> None:
    """A master (SQLite memory, 5 finished tasks in RAM) and ``agents`` load agents in a thread."""

    async def main() -> None:
        config = load_cloud_config(overrides=["bind=tcp://127.0.0.1:0", "control_plane.enabled=false",
                                              "dashboard.enabled=false", "memory.backend=sqlite",
                                              f"memory.path={tmp_path / 'cloud.db'}", "tasks_in_memory=5"])
        master = Master(config)
        await master.start()
        stop: list[bool] = [False]
        box: dict[str, LoadFleet] = {}

        def serve() -> None:
            fleet = box["fleet"] = LoadFleet(master.channel.endpoint, 0, agents, rate_hz=20.0)
            try:
                fleet.run(stop, linger_s=0.2)
            finally:
                fleet.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            missing = await master.registry.wait_for([robot_name(i) for i in range(agents)], 10)
            assert not missing
            await check(master, box["fleet"])
        finally:
            stop[0] = True
            await asyncio.to_thread(thread.join, 10)
            await master.stop()

    asyncio.run(main())


def test_load_agents_register_stream_state_and_execute_each_call_once(tmp_path: Path) -> None:
    async def check(master: Master, fleet: LoadFleet) -> None:
        robot = robot_name(1)
        first = await master.channel.call(robot, {"skill": SKILL.name, "args": {}}, msg_id="call-1", timeout=5)
        again = await master.channel.call(robot, {"skill": SKILL.name, "args": {}}, msg_id="call-1", timeout=5)
        assert first.body == again.body and first.body["ok"] is True
        assert isinstance(first.body["value"]["recv_mono_ns"], int)
        await asyncio.sleep(0.3)
        assert fleet.executed["call-1"] == 1 and fleet.counts["duplicate_calls"] == 1
        assert fleet.states_sent[robot] > 0 and master.registry.info(robot).state.get("status") == "idle"
        for _ in range(100):  # the cloud beats every 0.5 s; the agent echoes its sent_ns in the next beat
            if master.channel.links()[robot].rtt_s is not None:
                break
            await asyncio.sleep(0.05)
        assert master.channel.links()[robot].rtt_s is not None, "heartbeats echo the cloud's sent_ns"

    _with_fleet(check, tmp_path)


def test_finished_tasks_in_ram_are_bounded_and_older_ones_are_read_back(tmp_path: Path) -> None:
    async def check(master: Master, fleet: LoadFleet) -> None:
        ids = []
        for i in range(12):
            plan = Plan(steps=[Step(id="s1", robot=robot_name(i % 3), skill=SKILL.name)])
            ids.append(await master.submit_plan(plan, instruction=f"load {i}"))
        records = [await master.wait(t, timeout=10) for t in ids]
        assert all(r.status is TaskStatus.succeeded for r in records)
        await asyncio.sleep(0)  # the runners' done callbacks
        assert len(master.list_tasks()) == 5 and not master._runners
        old = master.get_task(ids[0])  # no longer in RAM: from the memory store
        assert old.status is TaskStatus.succeeded and old.plan.steps[0].result["recv_mono_ns"] > 0
        events = [e async for e in master.watch(ids[0])]
        assert events[0].kind == "plan" and events[-1].status is TaskStatus.succeeded
        assert sum(fleet.executed.values()) == 12
        with pytest.raises(ValueError, match="already used"):
            await master.submit_plan(Plan(steps=[Step(id="s1", robot=robot_name(0), skill=SKILL.name)]),
                                     task_id=ids[0])
        with pytest.raises(PlanValidationError, match="has no skill 'fly'"):
            await master.submit_plan(Plan(steps=[Step(id="s1", robot=robot_name(0), skill="fly")]))

    _with_fleet(check, tmp_path)


def test_a_submitted_plan_sends_its_first_call_before_submit_plan_returns(tmp_path: Path) -> None:
    async def check(master: Master, fleet: LoadFleet) -> None:
        sent = master.channel.stats.sent
        pending = len(master.channel._pending)
        task_id = await master.submit_plan(Plan(steps=[Step(id="s1", robot=robot_name(0), skill=SKILL.name)]))
        # no loop turn in between: the runner started eagerly and its CALL is already on the socket
        assert master.channel.stats.sent == sent + 1 and len(master.channel._pending) == pending + 1
        assert (await master.wait(task_id, timeout=10)).status is TaskStatus.succeeded

    _with_fleet(check, tmp_path)


def test_fleet_rejects_nonsense_sizes() -> None:
    with pytest.raises(ValueError):
        LoadFleet("tcp://127.0.0.1:1", 0, 0, rate_hz=10.0)
