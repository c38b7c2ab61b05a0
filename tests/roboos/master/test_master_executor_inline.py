"""``Executor.run_plan`` runs a lone ready step inline (its result and the task's next events share a loop
turn and one commit) and ready steps on different robots concurrently, each in its own task."""

from __future__ import annotations

import asyncio

from roboos.master.config import ExecutorConfig
from roboos.master.executor import Executor
from roboos.master.models import Plan, Step, StepStatus, TaskRecord
from roboos.master.tasks import TaskLog


class RecordingExecutor(Executor):
    """``run_step`` notes which asyncio task resumed each step after a loop turn, then ends it."""

    def __init__(self) -> None:
        super().__init__(None, None, None, ExecutorConfig())  # type: ignore[arg-type]
        self.ran_in: dict[str, asyncio.Task | None] = {}

    async def run_step(self, task: TaskLog, step: Step) -> bool:
        await asyncio.sleep(0)  # started eagerly: after its first wait a concurrent step is in its own task
        self.ran_in[step.id] = asyncio.current_task()
        step.status = StepStatus.succeeded if step.skill != "fail" else StepStatus.failed
        return step.status is StepStatus.succeeded


def run(plan: Plan) -> tuple[RecordingExecutor, Step | None, asyncio.Task | None]:
    executor = RecordingExecutor()

    async def main() -> tuple[Step | None, asyncio.Task | None]:
        return await executor.run_plan(TaskLog(TaskRecord(id="t", instruction="x")), plan), asyncio.current_task()

    failed, plan_task = asyncio.run(main())
    return executor, failed, plan_task


def test_a_chain_runs_inline_and_parallel_steps_run_as_tasks() -> None:
    plan = Plan(steps=[Step(id="a", robot="arm", skill="pick"), Step(id="b", robot="rover", skill="go"),
                       Step(id="c", robot="arm", skill="place", depends_on=["a", "b"])])
    executor, failed, plan_task = run(plan)
    assert failed is None and all(s.status is StepStatus.succeeded for s in plan.steps)
    assert executor.ran_in["a"] is not plan_task and executor.ran_in["b"] is not plan_task  # concurrent
    assert executor.ran_in["c"] is plan_task  # alone: inline


def test_an_inline_failure_stops_the_plan_and_skips_the_rest() -> None:
    plan = Plan(steps=[Step(id="a", robot="arm", skill="fail"), Step(id="b", robot="arm", skill="go",
                                                                      depends_on=["a"])])
    _, failed, _ = run(plan)
    assert failed is plan.steps[0] and plan.steps[1].status is StepStatus.skipped
