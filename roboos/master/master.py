"""The cloud master: robot registry, task intake, planning, execution, replanning and task event streams.

One :class:`Master` owns a :class:`~roboos.channel.CloudChannel` (edges connect to it), a
:class:`~roboos.master.registry.RobotRegistry` fed by the channel's hooks, a
:class:`~roboos.master.world.WorldModel` started from the scene file and updated from skill effects and
robot state, a :class:`~roboos.master.planning.Planner` and an :class:`~roboos.master.executor.Executor`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from roboos.channel import ChannelRejected, CloudChannel
from roboos.config import builtin_config
from roboos.master.cameras import CameraFrames
from roboos.master.config import CloudConfig
from roboos.skills.index import SkillIndex
from roboos.master.executor import Executor
from roboos.master.eager import start_now
from roboos.master.persistence import Persistence
from roboos.master.models import (
    Plan,
    PlanningError,
    RobotInfo,
    Step,
    StepStatus,
    TaskEvent,
    TaskRecord,
    TaskStatus,
    UnknownTaskError,
)
from roboos.master.planning import OfflinePlanner, Planner, PlanRequest
from roboos.master.planning.validate import validate_plan
from roboos.master.registry import RegistrationError, RobotRegistry
from roboos.master.tasks import TaskLog, error_text, step_summary
from roboos.master.world import WorldModel
from roboos.memory import HistoryLog, MemoryBackend
from roboos.protocol import Envelope, MsgType
from roboos.sim.kinematic.scene import SceneConfig, load_scene

log = logging.getLogger("roboos.master")


def make_planner(config: CloudConfig) -> Planner:
    """The planner named by ``planner.kind``: the offline rule-based planner or the LLM planner."""
    if config.planner.kind == "llm":
        from roboos.master.planning.llm import LLMPlanner
        from roboos.skills.retrieval.select import RetrievalSelector

        # Retrieval lists only the top-k skills in the prompt (all of them when a fleet has <= k).
        return LLMPlanner(config.planner.llm, select_skills=RetrievalSelector())
    return OfflinePlanner()


def load_cloud_scene(config: CloudConfig) -> SceneConfig:
    """The scene named by ``config.scene``: a file path, or a file under the package's ``configs/``."""
    path = Path(config.scene)
    return load_scene(path if path.exists() else builtin_config(config.scene))


class Master:
    """The brain of RoboOS: takes instructions, plans them onto robots, runs and watches the plans."""

    channel: CloudChannel

    def __init__(self, config: CloudConfig, *, planner: Planner | None = None, memory: MemoryBackend | None = None,
                 history: HistoryLog | None = None) -> None:
        self.config = config
        self.planner: Planner = planner or make_planner(config)
        self.persistence = Persistence(config.memory, memory, history)
        self.world = WorldModel(load_cloud_scene(config), self.persistence.memory, reset=config.memory.reset_world)
        self.world.before_write = self.persistence.join_turn  # world writes share the turn's commit
        self.channel = CloudChannel(config.bind, name=config.name,
                                    heartbeat_interval_s=config.heartbeat.interval_s,
                                    heartbeat_timeout_s=config.heartbeat.timeout_s,
                                    **config.security.channel_kwargs(config.bind))
        self.registry = RobotRegistry(self.world, link_age=self._link_age)
        self.registry.listeners.append(self._on_robot_change)
        self.skill_index = SkillIndex()  # which robot offers which skill version (fed by HELLO / offline)
        self.skill_index.follow(self.registry)
        self.executor = Executor(self.channel, self.registry, self.world, config.executor,
                                 before_call=self.persistence.commit)
        self.cameras = CameraFrames()  # latest streamed camera frame per robot camera (the dashboard shows them)
        self._tasks: dict[str, TaskLog] = {}  # unfinished tasks and the newest finished ones (in RAM)
        self._finished: deque[str] = deque()  # finished task ids in RAM, oldest first
        self._runners: dict[str, asyncio.Future[None]] = {}
        self.channel.on_hello = self._on_hello
        self.channel.on_message = self._on_message
        self.channel.on_disconnect = self._on_disconnect
        self._started = False

    # ------------------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        """Bind the channel (``channel.endpoint`` then holds the actual address)."""
        await self.channel.start()
        self._started = True
        self._recover()
        log.info("master %s listening on %s (planner: %s)", self.config.name, self.channel.endpoint,
                 getattr(self.planner, "name", type(self.planner).__name__))

    async def stop(self) -> None:
        """Stop: with a persistent memory and ``recovery: resume`` unfinished tasks are suspended as they
        are (the next start resumes them); otherwise they are cancelled. Then close the channel."""
        suspend = self.config.memory.backend != "local" and self.config.memory.recovery == "resume"
        self.executor.suspending = suspend
        for task_id, runner in list(self._runners.items()):
            if runner.done():
                continue
            if suspend:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
            else:
                await self.cancel(task_id, reason="master shutting down")
        if self._started:
            await self.channel.close()
            self._started = False
        close = getattr(self.planner, "aclose", None)
        if close is not None:
            await close()
        self.persistence.close()

    async def __aenter__(self) -> Master:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------------------------- tasks
    async def submit(self, instruction: str, *, task_id: str | None = None) -> str:
        """Accept an instruction and start planning it; returns the task id at once."""
        instruction = instruction.strip()
        if not instruction:
            raise ValueError("the instruction is empty")
        task = self._new_task(instruction, task_id)
        task.emit("status", f"task accepted: {instruction}")
        self._start(task, self._run(task))
        return task.record.id

    async def submit_plan(self, plan: Plan, *, instruction: str = "", task_id: str | None = None) -> str:
        """Accept a ready plan (no planning): validated like a planner's plan against the robots it
        names, then executed, watched and persisted as any task (a failed step, after its retries,
        fails the task: there is no instruction to replan from); returns the task id at once.

        Raises :class:`~roboos.master.planning.validate.PlanValidationError` for an invalid plan.
        """
        robots = [self.registry.info(r) for r in sorted({s.robot for s in plan.steps}) if r in self.registry]
        validate_plan(plan, robots)
        task = self._new_task(instruction.strip() or f"run a plan of {len(plan.steps)} steps", task_id)
        task.record.plan = plan
        task.emit("plan", plan.notes or f"{len(plan.steps)} steps (submitted)", plan=plan)
        self._start(task, self._execute(task, plan, replan=False), eager=True)
        return task.record.id

    def _new_task(self, instruction: str, task_id: str | None) -> TaskLog:
        if not task_id:  # 64 random bits: no collision before billions of tasks, no store lookup
            task_id = uuid.uuid4().hex[:16]
        elif task_id in self._tasks or self.persistence.memory.get("task", task_id) is not None:
            raise ValueError(f"task id '{task_id}' is already used")
        task = TaskLog(TaskRecord(id=task_id, instruction=instruction), sink=self.persistence.task_event)
        self._tasks[task_id] = task
        return task

    def _start(self, task: TaskLog, work: Coroutine[Any, Any, None], *, eager: bool = False) -> None:
        """Run ``work`` as the task's runner. ``eager``: run it now up to its first real wait (a submitted
        plan's first CALL is sent before this returns, not a loop turn later behind whatever is queued);
        only for work that does not plan: the LLM planner's HTTP client (anyio) must start in its own task."""
        task_id = task.record.id
        guarded = self._guard(task, work)
        name = f"task-{task_id}"
        runner = start_now(guarded, name=name) if eager else asyncio.create_task(guarded, name=name)
        self._runners[task_id] = runner
        runner.add_done_callback(lambda _r: self._retire(task_id))

    def _retire(self, task_id: str) -> None:
        """A runner ended: forget it and keep at most ``tasks_in_memory`` finished tasks in RAM (older
        ones stay in the memory store and the history, and are read back on demand)."""
        self._runners.pop(task_id, None)
        task = self._tasks.get(task_id)
        if task is None or not task.record.status.terminal:
            return  # suspended for a resume at the next start
        self._finished.append(task_id)
        while len(self._finished) > self.config.tasks_in_memory:
            self._tasks.pop(self._finished.popleft(), None)

    def watch(self, task_id: str) -> AsyncIterator[TaskEvent]:
        """The task's events: all past ones, then live ones; ends after the terminal status event."""
        return self._task(task_id).follow()

    async def cancel(self, task_id: str, *, reason: str = "cancelled by request") -> bool:
        """Cancel an unfinished task (running steps get a CANCEL); ``False`` if it already ended."""
        task = self._task(task_id)
        runner = self._runners.get(task_id)
        if task.record.status.terminal or runner is None:
            return False
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        if not task.record.status.terminal:
            task.set_status(TaskStatus.cancelled, reason=reason)
        return True

    async def wait(self, task_id: str, timeout: float | None = None) -> TaskRecord:
        """Wait for the task to end (``TimeoutError`` after ``timeout``) and return its record."""
        task = self._task(task_id)
        await asyncio.wait_for(task.done.wait(), timeout)
        return task.record

    def get_task(self, task_id: str) -> TaskRecord:
        return self._task(task_id).record

    def list_tasks(self) -> list[TaskRecord]:
        """Unfinished tasks and the newest ``tasks_in_memory`` finished ones."""
        return [t.record for t in self._tasks.values()]

    def list_robots(self) -> list[RobotInfo]:
        return self.registry.list()

    def _task(self, task_id: str) -> TaskLog:
        task = self._tasks.get(task_id)
        if task is not None:
            return task
        entry = self.persistence.memory.get("task", task_id)  # a finished task no longer held in RAM
        if entry is None:
            raise UnknownTaskError(task_id)
        try:
            record = TaskRecord.model_validate(entry.value)
        except ValidationError:
            log.warning("task record %s is unreadable", task_id)
            raise UnknownTaskError(task_id) from None
        task = TaskLog(record, events=self.persistence.task_events(task_id))
        task.done.set()
        return task

    # ------------------------------------------------------------------------------- running
    async def _run(self, task: TaskLog, *, resume: bool = False) -> None:
        if resume:
            await self._resume(task)
        else:
            await self._plan_and_execute(task)

    async def _guard(self, task: TaskLog, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            if not task.record.status.terminal and not self.executor.suspending:
                task.set_status(TaskStatus.cancelled, reason="cancelled by request")
            raise
        except Exception as exc:  # a bug must fail the task visibly, never leave it hanging
            log.exception("task %s crashed", task.record.id)
            task.set_status(TaskStatus.failed, reason=f"internal error: {type(exc).__name__}: {exc}")

    async def _plan_and_execute(self, task: TaskLog) -> None:
        record = task.record
        plan = await self._make_plan(task, PlanRequest(instruction=record.instruction, task_id=record.id))
        if plan is not None:
            await self._execute(task, plan)

    async def _execute(self, task: TaskLog, plan: Plan, *, replan: bool = True) -> None:
        """Run ``plan``; on a failed step replan (bounded) with the failure and recent history fed back
        (a submitted plan, ``replan=False``, has no instruction to replan from: the task fails)."""
        record = task.record
        while True:
            task.set_status(TaskStatus.running, f"running {len(plan.steps)} steps")
            failed = await self.executor.run_plan(task, plan)
            if failed is None:
                task.set_status(TaskStatus.succeeded, f"all {len(plan.steps)} steps succeeded")
                return
            why = f"step {step_summary(failed)} failed: {error_text(failed.error)}"
            if not replan:
                task.set_status(TaskStatus.failed, reason=why)
                return
            if record.replans >= self.config.executor.max_replans:
                task.set_status(TaskStatus.failed, reason=f"{why} (gave up after {record.replans} replans)")
                return
            record.replans += 1
            task.emit("log", f"{why}; replanning ({record.replans}/{self.config.executor.max_replans})")
            request = PlanRequest(instruction=record.instruction, task_id=record.id, replan=record.replans,
                                  previous_plan=plan, failed_step=failed, error=failed.error,
                                  history=self.persistence.recent_lines(record.id)
                                  or [e.message for e in task.events[-12:] if e.message])
            plan = await self._make_plan(task, request, failure=why)
            if plan is None:
                return

    async def _make_plan(self, task: TaskLog, request: PlanRequest, failure: str = "") -> Plan | None:
        """Plan (or replan); on a planning error the task fails with the reason and ``None`` is returned."""
        task.set_status(TaskStatus.planning, f"planning with the {getattr(self.planner, 'name', 'planner')}")
        request.robots = self.registry.list(online_only=True)
        request.world = self.world.snapshot()
        try:
            plan = await self.planner.plan(request)
        except PlanningError as exc:
            reason = f"{failure}; replanning failed: {exc}" if failure else f"planning failed: {exc}"
            task.set_status(TaskStatus.failed, reason=reason)
            return None
        if request.replan:
            _prefix_ids(plan, f"r{request.replan}-")
        task.record.plan = plan
        task.emit("plan", plan.notes or f"{len(plan.steps)} steps", plan=plan)
        return plan

    # ------------------------------------------------------------------------------- recovery
    def _recover(self) -> None:
        """Load tasks from memory; unfinished ones are resumed or failed (``memory.recovery``)."""
        for record in self.persistence.load_tasks():
            if record.id in self._tasks:
                continue
            task = TaskLog(record, sink=self.persistence.task_event, events=self.persistence.task_events(record.id))
            self._tasks[record.id] = task
            if record.status.terminal:
                task.done.set()
                self._finished.append(record.id)
            elif self.config.memory.recovery == "fail":
                task.set_status(TaskStatus.failed, reason=f"the cloud restarted while the task was "
                                f"{record.status.value}; not resumed (memory.recovery=fail)")
                self._finished.append(record.id)
            else:
                self._start(task, self._run(task, resume=True))
                log.info("resuming task %s (%s)", record.id, record.status.value)

    async def _resume(self, task: TaskLog) -> None:
        """Continue a task found unfinished at start: wait for its robots, re-send interrupted calls with
        their ids (the edges return stored results instead of moving twice), then go on as usual."""
        record, plan = task.record, task.record.plan
        task.emit("log", "resuming after a cloud restart")
        if plan is None or record.status in (TaskStatus.pending, TaskStatus.planning):
            await self._plan_and_execute(task)
            return
        robots = sorted({s.robot for s in plan.steps if not s.status.terminal})
        missing = await self.registry.wait_for(robots, self.config.memory.recovery_wait_s)
        if missing:
            task.emit("log", f"robots not back after the restart: {', '.join(missing)}")
        for step in plan.steps:
            if step.status is StepStatus.running:
                step.status = StepStatus.pending
                step.attempts = max(0, step.attempts - 1)
        await self._execute(task, plan)

    # --------------------------------------------------------------------------- channel hooks
    async def _on_hello(self, env: Envelope) -> dict | None:
        try:
            info = self.registry.register(env.body)
        except RegistrationError as exc:
            raise ChannelRejected(str(exc)) from None
        return {"master": self.config.name, "skills_accepted": len(info.skills)}

    async def _on_message(self, env: Envelope) -> None:
        if env.type is MsgType.OBSERVATION:
            self.cameras.accept(env.src, env.body)
            return
        self.registry.on_message(env)
        if env.type is MsgType.STATE and isinstance(env.body.get("state"), dict):
            self.persistence.robot_state(env.src, env.body["state"])

    def _on_robot_change(self, robot: str, kind: str, data: dict) -> None:
        if kind in ("online", "offline"):
            self.world.update_robot(robot, online=kind == "online", **({"embodiment": data["embodiment"]}
                                                                       if "embodiment" in data else {}))
        self.persistence.robot_event(robot, kind, data)

    async def _on_disconnect(self, robot: str, reason: str) -> None:
        self.registry.mark_offline(robot, reason)

    def _link_age(self, robot: str) -> float | None:
        link = self.channel.links().get(robot)
        return round(link.age_s, 3) if link is not None else None


def _prefix_ids(plan: Plan, prefix: str) -> None:
    """Make a replan's step ids distinct from the previous plan's (``s1`` -> ``r1-s1``)."""
    for step in plan.steps:
        step.id = prefix + step.id
        step.depends_on = [prefix + d for d in step.depends_on]


__all__ = ["Master", "Step", "load_cloud_scene", "make_planner"]
