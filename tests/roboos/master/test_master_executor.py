"""Master + executor against real edge agents (own ZeroMQ TCP connections on loopback, shared sim world)."""

from __future__ import annotations

import asyncio

from master_rig import MasterRig, run_master, wait_until

from roboos.master.models import StepStatus, TaskStatus, UnknownTaskError

DEMO = "put the screwdriver on the shelf and bring the apple to the dining table"


def test_demo_runs_both_robots_concurrently_and_updates_the_world() -> None:
    async def check(rig: MasterRig) -> None:
        record, events = await rig.run_task(DEMO)
        assert record.status is TaskStatus.succeeded, record.reason
        steps = {s.id: s for s in record.plan.steps}
        assert all(s.status is StepStatus.succeeded and s.attempts == 1 for s in steps.values())
        # dependencies respected: every step started after the steps it depends on finished
        for step in steps.values():
            for dep in step.depends_on:
                assert steps[dep].finished_at <= step.started_at
        # concurrency: while the arm worked, the rover was already driving (from the event order)
        started = [e.step.robot for e in events if e.kind == "step" and e.step.status is StepStatus.running]
        assert started[:2] == ["arm1", "rover1"] or started[:2] == ["rover1", "arm1"]
        running: set[str] = set()
        overlap = False
        for e in events:
            if e.kind == "step":
                (running.add if e.step.status is StepStatus.running else running.discard)(e.step.robot)
                overlap |= running == {"arm1", "rover1"}
        assert overlap, "steps of the two robots ran at the same time"
        world = rig.master.world.snapshot()
        assert world["objects"]["screwdriver"]["location"] == "shelf"
        assert world["objects"]["apple"]["location"] == "dining_table"
        assert rig.world.location_of("apple") == "dining_table", "the sim world agrees"
        await wait_until(lambda: rig.master.list_robots()[1].state.get("location") == "dining_table", what="state")
        kinds = [e.kind for e in events]
        assert kinds[0] == "status" and "plan" in kinds and [e.seq for e in events] == list(range(1, len(events) + 1))
        replay = [e async for e in rig.master.watch(record.id)]
        assert replay == events, "watch replays the whole history after the end"

    run_master(check, time_scale=0.05)


def test_a_single_failure_is_retried_on_the_same_step() -> None:
    async def check(rig: MasterRig) -> None:
        rig.world.inject_failure("pick", times=1, robot="arm1")
        record, events = await rig.run_task("put the toy block in the bin")
        assert record.status is TaskStatus.succeeded and record.replans == 0
        pick = record.plan.steps[0]
        assert pick.skill == "pick" and pick.attempts == 2
        assert any("retry 1/1" in e.message for e in events)

    run_master(check)


def test_repeated_failure_replans_onto_the_other_robot() -> None:
    async def check(rig: MasterRig) -> None:
        rig.world.inject_failure("pick", times=2, robot="arm1")
        record, events = await rig.run_task("put the screwdriver in the bin")
        assert record.status is TaskStatus.succeeded, record.reason
        assert record.replans == 1
        assert {s.robot for s in record.plan.steps} == {"rover1"}
        assert record.plan.steps[0].id.startswith("r1-")
        plans = [e.plan for e in events if e.kind == "plan"]
        assert plans[0].steps[0].robot == "arm1" and plans[1].notes.startswith("replan 1")
        assert any("replanning (1/2)" in e.message for e in events)
        assert rig.world.location_of("screwdriver") == "bin"

    run_master(check)


def test_failure_without_alternative_ends_failed_with_the_reason() -> None:
    async def check(rig: MasterRig) -> None:
        rig.world.inject_failure("navigate", times=10, robot="rover1", message="wheel stuck")
        record, _ = await rig.run_task("bring the apple to the dining table")
        assert record.status is TaskStatus.failed
        assert "rover1.navigate(target=kitchen_counter) failed" in record.reason
        assert "wheel stuck" in record.reason and "gave up after 1 replans" in record.reason
        assert record.finished_at is not None

    run_master(check, cloud=["executor.max_replans=1", "executor.max_step_retries=0"])


def test_robot_going_offline_mid_task_is_replanned_onto_a_capable_robot() -> None:
    async def check(rig: MasterRig) -> None:
        task_id = await rig.master.submit("put the screwdriver in the bin")
        await wait_until(lambda: any(s.status is StepStatus.running for s in
                                     (rig.master.get_task(task_id).plan or type("P", (), {"steps": []})).steps),
                         what="the arm to start")
        await rig.kill_edge("arm1")
        record = await rig.master.wait(task_id, 30)
        assert record.status is TaskStatus.succeeded, record.reason
        assert record.replans >= 1 and {s.robot for s in record.plan.steps} == {"rover1"}
        assert not rig.master.registry.is_online("arm1")
        robots = {r.name: r for r in rig.master.list_robots()}
        assert robots["arm1"].online is False and robots["rover1"].online is True
        # and an offline robot gets no new work at all
        record, _ = await rig.run_task("put the wrench in the bin")
        assert record.status is TaskStatus.succeeded and {s.robot for s in record.plan.steps} == {"rover1"}

    run_master(check, time_scale=0.5)


def test_cancel_stops_running_steps_and_ends_cancelled() -> None:
    async def check(rig: MasterRig) -> None:
        task_id = await rig.master.submit("bring the apple to the dining table")
        await wait_until(lambda: rig.agent("rover1").running, what="the rover to start driving")
        assert await rig.master.cancel(task_id) is True
        record = rig.master.get_task(task_id)
        assert record.status is TaskStatus.cancelled and record.reason == "cancelled by request"
        assert record.plan.steps[0].status is StepStatus.cancelled
        await wait_until(lambda: not rig.agent("rover1").running, what="the edge to cancel the call")
        assert await rig.master.cancel(task_id) is False, "a finished task cannot be cancelled again"
        events = [e async for e in rig.master.watch(task_id)]
        assert events[-1].status is TaskStatus.cancelled

    run_master(check, time_scale=1.0)


def test_planning_errors_and_unknown_tasks() -> None:
    async def check(rig: MasterRig) -> None:
        record, events = await rig.run_task("put the cup on the shelf")
        assert record.status is TaskStatus.failed and "'cup' is ambiguous" in record.reason
        assert record.plan is None and events[-1].status is TaskStatus.failed
        try:
            rig.master.get_task("nope")
        except UnknownTaskError as exc:
            assert isinstance(exc, KeyError) and str(exc) == "unknown task 'nope'"
        else:
            raise AssertionError("UnknownTaskError expected")
        try:
            await rig.master.submit("  ")
        except ValueError as exc:
            assert "empty" in str(exc)
        assert [t.id for t in rig.master.list_tasks()] == [record.id]

    run_master(check)


def test_concurrent_tasks_share_robots_one_step_at_a_time() -> None:
    async def check(rig: MasterRig) -> None:
        a = await rig.master.submit("put the toy block in the bin")
        b = await rig.master.submit("put the screwdriver on the shelf")
        ra, rb = await asyncio.gather(rig.master.wait(a, 20), rig.master.wait(b, 20))
        assert ra.status is TaskStatus.succeeded and rb.status is TaskStatus.succeeded
        spans = sorted((s.started_at, s.finished_at) for r in (ra, rb) for s in r.plan.steps)
        assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:])), "the arm ran one step at a time"

    run_master(check, time_scale=0.05)
