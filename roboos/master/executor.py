"""Runs a plan DAG: dependencies first, independent steps on different robots concurrently, one step at a
time per robot (across all tasks), bounded retries per step, robots going offline detected mid-call.

:meth:`Executor.run_plan` returns ``None`` when every step succeeded, or the failed :class:`Step` (after
the running steps finished) so the master can replan with the failure fed back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from roboos.channel import CallTimeout, ChannelError, CloudChannel, RemoteError, RobotOffline
from roboos.master.config import ExecutorConfig
from roboos.master.eager import start_now
from roboos.master.models import Plan, Step, StepStatus
from roboos.master.registry import RobotRegistry
from roboos.master.tasks import TaskLog, error_text, step_summary
from roboos.master.world import WorldModel
from roboos.protocol import Envelope, MsgType, new_id
from roboos.protocol.messages import CallBody, CancelBody, ResultBody
from roboos.skills.effects import effects_of

log = logging.getLogger("roboos.master.executor")

# Failures that another attempt of the same call cannot fix: go straight to replanning.
NOT_RETRYABLE = frozenset({"bad_arguments", "unknown_skill", "robot_offline", "bad_body", "bad_result",
                           "rejected", "cancelled"})


class Executor:
    """Executes plans over a :class:`CloudChannel`; shared by all tasks of a master (per-robot locks)."""

    def __init__(self, channel: CloudChannel, registry: RobotRegistry, world: WorldModel,
                 config: ExecutorConfig, *, before_call: Callable[[], None] | None = None) -> None:
        self.channel, self.registry, self.world, self.config = channel, registry, world, config
        self.before_call = before_call  # makes the step's "started" record (with its call id) durable
        self._locks: dict[str, asyncio.Lock] = {}
        self.suspending = False  # set by Master.stop: leave running steps as they are, for a resume

    def robot_lock(self, robot: str) -> asyncio.Lock:
        return self._locks.setdefault(robot, asyncio.Lock())

    async def run_plan(self, task: TaskLog, plan: Plan) -> Step | None:
        """Run ``plan`` (mutating its steps); return the first failed step, or ``None`` on success."""
        steps = {s.id: s for s in plan.steps}
        running: dict[asyncio.Task[bool], Step] = {}
        failed: Step | None = None
        try:
            while True:
                ready: list[Step] = []
                if failed is None:
                    busy = {s.robot for s in running.values()}
                    for step in plan.steps:
                        if (step.status is StepStatus.pending and step.robot not in busy
                                and all(steps[d].status is StepStatus.succeeded for d in step.depends_on)):
                            busy.add(step.robot)
                            ready.append(step)
                if len(ready) == 1 and not running:  # nothing to overlap: run it inline, and the task's
                    if not await self.run_step(task, ready[0]):  # next events join the turn (and the
                        failed = ready[0]  # commit) of the step's result
                    continue
                for step in ready:
                    running[start_now(self.run_step(task, step))] = step
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    step = running.pop(fut)
                    if not fut.result() and failed is None:
                        failed = step
        except asyncio.CancelledError:
            for fut in running:
                fut.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        if failed is None:
            leftover = [s for s in plan.steps if s.status is StepStatus.pending]
            if leftover:  # cannot happen for a validated DAG; never report success with work undone
                failed = leftover[0]
                failed.error = {"code": "unreachable", "message": "its dependencies never succeeded"}
        for step in plan.steps:
            if failed is not None and step.status is StepStatus.pending:
                step.status = StepStatus.skipped
                task.emit("step", f"{step_summary(step)} skipped", step=step)
        return failed

    async def run_step(self, task: TaskLog, step: Step) -> bool:
        """Run one step with bounded retries; emits step events; returns whether it succeeded."""
        attempts = 1 + self.config.max_step_retries
        while step.attempts < attempts:
            step.attempts += 1
            error = await self._attempt(task, step)
            if error is None:
                return True
            step.call_id = None  # a retry is a new call (the edge would return the stored failure)
            step.error = error
            final = step.attempts >= attempts or error.get("code") in NOT_RETRYABLE
            if final:
                break
            step.status = StepStatus.pending
            task.emit("log", f"{step_summary(step)} failed ({error_text(error)}); retry "
                             f"{step.attempts}/{self.config.max_step_retries}")
        step.status, step.finished_at = StepStatus.failed, time.time()
        task.emit("step", f"{step_summary(step)} failed: {error_text(step.error)}", step=step)
        return False

    async def _attempt(self, task: TaskLog, step: Step) -> dict[str, Any] | None:
        if not await self.registry.wait_online(step.robot, self.config.wait_robot_s):
            return {"code": "robot_offline", "message": f"robot '{step.robot}' is offline"}
        async with self.robot_lock(step.robot):
            step.status, step.started_at, step.finished_at, step.error = StepStatus.running, time.time(), None, None
            call_id = step.call_id = step.call_id or new_id()  # a resumed step re-sends its call id
            with self.world.store.batch():  # one transaction where the store can
                self.world.update_robot(step.robot, current_task=task.record.id, current_step=step.id)
                task.emit("step", f"{step_summary(step)} started (attempt {step.attempts})", step=step)
            try:
                reply = await self._call(task, step, call_id)
            except asyncio.CancelledError:
                if self.suspending:  # the cloud stops: the step stays "running" with its call id
                    raise
                await self._send_cancel(step.robot, call_id, "task cancelled")
                step.status, step.finished_at = StepStatus.cancelled, time.time()
                step.error = {"code": "cancelled", "message": "task cancelled"}
                task.emit("step", f"{step_summary(step)} cancelled", step=step)
                raise
            finally:
                self.world.update_robot(step.robot, current_task=None, current_step=None)
            if isinstance(reply, dict):
                return reply
            try:
                result = ResultBody.model_validate(reply.body)
            except ValidationError as exc:
                return {"code": "bad_result", "message": f"malformed RESULT: {exc.errors(include_url=False)[0]['msg']}"}
            if not result.ok:
                return result.error or {"code": "skill_failed", "message": "the skill reported failure"}
            self.world.note_result(step.robot, reply.ts_ns)
            try:
                self.world.apply_effects(effects_of(result.value))
            except (ValueError, ValidationError) as exc:
                log.warning("%s: ignoring malformed effects: %s", step_summary(step), exc)
            step.status, step.finished_at, step.result = StepStatus.succeeded, time.time(), result.value
            task.emit("step", f"{step_summary(step)} succeeded in {result.duration_s:.2f} s", step=step)
            return None

    async def _call(self, task: TaskLog, step: Step, call_id: str) -> Envelope | dict[str, Any]:
        """The CALL, raced against the robot going (and staying) offline; errors become dicts."""
        timeout = self._timeout(step)
        body = CallBody(skill=step.skill, args=step.args, timeout_s=self.config.step_timeout_s,
                        task_id=task.record.id, step_id=step.id).model_dump()
        if self.before_call is not None:  # the call id is on disk before the robot can move
            self.before_call()
        call = start_now(self.channel.call(step.robot, body, timeout=timeout, msg_id=call_id))  # CALL sent now
        watch = asyncio.ensure_future(self._lost(step.robot))
        try:
            await asyncio.wait({call, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not call.done():
                call.cancel()
        if not call.done() or call.cancelled():
            return {"code": "robot_offline", "message": f"robot '{step.robot}' went offline during the step "
                                                         f"and was not back within {self.config.wait_robot_s:g} s"}
        try:
            return call.result()
        except RobotOffline as exc:
            return {"code": "robot_offline", "message": str(exc)}
        except CallTimeout:
            await self._send_cancel(step.robot, call_id, "timeout")
            return {"code": "timeout", "message": f"no result from '{step.robot}' within {timeout:g} s"}
        except RemoteError as exc:
            return {"code": exc.code or "remote_error", "message": exc.message, "details": exc.details or {}}
        except ChannelError as exc:
            return {"code": "channel_error", "message": str(exc)}

    async def _lost(self, robot: str) -> None:
        """Return once ``robot`` went offline and stayed offline for ``wait_robot_s``."""
        while True:
            await self.registry.wait_offline(robot)
            if not await self.registry.wait_online(robot, self.config.wait_robot_s):
                return

    def _timeout(self, step: Step) -> float:
        if self.config.step_timeout_s is not None:
            return self.config.step_timeout_s + self.config.timeout_margin_s
        card = self.registry.card(step.robot, step.skill)
        return (card.timeout_s if card else 30.0) + self.config.timeout_margin_s

    async def _send_cancel(self, robot: str, call_id: str, reason: str) -> None:
        try:
            await self.channel.send(robot, Envelope(MsgType.CANCEL, CancelBody(call_id=call_id, reason=reason).model_dump()))
        except ChannelError:
            pass  # the robot is gone; its watchdog stops it
