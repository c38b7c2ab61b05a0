"""Rich terminal views of tasks and robots (``roboos task watch``, ``roboos task list``, ``roboos robots``).

:class:`TaskView` folds a task's event stream into the current picture (status, plan, each step's state)
and renders it; feed it events and hand it to ``rich.live.Live``. Anything that has ``TaskEvent``s
(the control-plane client, or ``Master.watch`` in-process) can use it.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from roboos.master.models import Plan, RobotInfo, Step, StepStatus, TaskEvent, TaskRecord, TaskStatus

TASK_STYLE = {
    TaskStatus.pending: ("…", "dim"),
    TaskStatus.planning: ("✎", "cyan"),
    TaskStatus.running: ("▶", "yellow"),
    TaskStatus.succeeded: ("✔", "green"),
    TaskStatus.failed: ("✘", "red"),
    TaskStatus.cancelled: ("■", "magenta"),
}
STEP_STYLE = {
    StepStatus.pending: ("·", "dim"),
    StepStatus.running: ("▶", "yellow"),
    StepStatus.succeeded: ("✔", "green"),
    StepStatus.failed: ("✘", "red"),
    StepStatus.skipped: ("↷", "dim"),
    StepStatus.cancelled: ("■", "magenta"),
}


def status_text(status: TaskStatus | StepStatus | None) -> Text:
    """``✔ succeeded`` in the status colour."""
    if status is None:
        return Text("? unknown", style="dim")
    icon, style = (TASK_STYLE if isinstance(status, TaskStatus) else STEP_STYLE)[status]
    return Text(f"{icon} {status.value}", style=style)


def short_json(value: Any, limit: int = 48) -> str:
    """Compact one-line JSON, cut to ``limit`` characters."""
    if value is None or value == {}:
        return ""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(start: float | None, end: float | None, now: float) -> str:
    if start is None:
        return ""
    return f"{(end if end is not None else now) - start:.1f} s"


class TaskView:
    """The live picture of one task, built from its events."""

    def __init__(self, task_id: str, instruction: str = "") -> None:
        self.task_id = task_id
        self.instruction = instruction
        self.status: TaskStatus | None = None
        self.planner = ""
        self.steps: dict[str, Step] = {}
        self.plans = 0  # distinct plans seen (1 + replans)
        self.show_messages = True  # the last few event messages under the table (live view)
        self.reason = ""
        self.messages: deque[str] = deque(maxlen=5)
        self.last_seq = 0

    @classmethod
    def from_record(cls, record: TaskRecord) -> TaskView:
        view = cls(record.id, record.instruction)
        view.status = record.status
        view.reason = record.reason
        if record.plan is not None:
            view._set_plan(record.plan)
        return view

    def _set_plan(self, plan: Plan) -> None:
        if set(self.steps) != {s.id for s in plan.steps}:  # a replan (ids change), not an update of the plan
            self.plans += 1
        self.planner = plan.planner
        self.steps = {s.id: s for s in plan.steps}

    def apply(self, event: TaskEvent) -> None:
        """Fold one event into the view (events at or below the last seen ``seq`` are ignored)."""
        if event.seq <= self.last_seq:
            return
        self.last_seq = event.seq
        self.status = event.status
        if event.kind == "plan" and event.plan is not None:
            self._set_plan(event.plan)
        elif event.kind == "step" and event.step is not None:
            self.steps[event.step.id] = event.step
        if event.message:
            self.messages.append(event.message)
            if (
                event.kind == "status"
                and event.status not in (TaskStatus.succeeded, None)
                and event.status.terminal
            ):
                self.reason = event.message

    def update_from_record(self, record: TaskRecord) -> None:
        """Take the final word (status, reason, step outcomes) from the task record."""
        self.status = record.status
        self.reason = record.reason or self.reason
        self.instruction = record.instruction or self.instruction
        if record.plan is not None:
            self._set_plan(record.plan)

    def steps_table(self, now: float | None = None) -> Table:
        now = time.time() if now is None else now
        table = Table(expand=False, show_edge=False, pad_edge=False)
        for column in ("step", "robot", "skill", "args", "status", "try", "time", "detail"):
            table.add_column(column, no_wrap=column not in ("detail", "args"))
        for step in self.steps.values():
            detail = ""
            if step.error:
                detail = f"{step.error.get('code', 'error')}: {step.error.get('message', '')}"
            elif step.result is not None:
                detail = short_json(step.result, 40)
            if step.depends_on and step.status == StepStatus.pending:
                detail = detail or f"after {', '.join(step.depends_on)}"
            table.add_row(
                step.id,
                step.robot,
                step.skill,
                short_json(step.args),
                status_text(step.status),
                str(step.attempts or ""),
                _duration(step.started_at, step.finished_at, now),
                detail,
            )
        return table

    def __rich__(self) -> RenderableType:
        header = Text.assemble(("task ", "bold"), (self.task_id, "bold cyan"), "  ", status_text(self.status))
        if self.plans > 1:
            header.append(f"  (replanned {self.plans - 1}×)", style="dim")
        parts: list[RenderableType] = [header]
        if self.instruction:
            parts.append(Text(f"“{self.instruction}”", style="italic"))
        if self.steps:
            parts.append(Text(f"plan by {self.planner or 'planner'}: {len(self.steps)} steps", style="dim"))
            parts.append(self.steps_table())
        elif self.status in (None, TaskStatus.pending, TaskStatus.planning):
            parts.append(Text("planning…", style="dim"))
        if self.show_messages:
            parts.extend(Text(f"  {message}", style="dim") for message in self.messages)
        if (
            self.status is not None
            and self.status.terminal
            and self.status != TaskStatus.succeeded
            and self.reason
        ):
            parts.append(Text(f"reason: {self.reason}", style="red"))
        return Group(*parts)


def tasks_table(tasks: list[TaskRecord], now: float | None = None) -> Table:
    """One row per task: id, status, steps done/total, age, instruction."""
    now = time.time() if now is None else now
    table = Table(title="tasks", show_edge=False)
    for column in ("id", "status", "steps", "age", "instruction"):
        table.add_column(column, no_wrap=column != "instruction")
    for task in tasks:
        steps = task.plan.steps if task.plan else []
        done = sum(1 for s in steps if s.status == StepStatus.succeeded)
        table.add_row(
            task.id,
            status_text(task.status),
            f"{done}/{len(steps)}" if steps else "",
            f"{now - task.created_at:.0f} s",
            task.instruction,
        )
    return table


def robot_state_summary(state: dict[str, Any]) -> str:
    """A short description of a robot's last state: status, place, what it holds."""
    if not state:
        return ""
    parts = [str(state.get("status", ""))]
    if state.get("location"):
        parts.append(f"at {state['location']}")
    pose = state.get("pose")
    if isinstance(pose, dict) and not state.get("location"):
        parts.append(f"({pose.get('x', 0):.2f}, {pose.get('y', 0):.2f})")
    if state.get("holding"):
        parts.append(f"holding {state['holding']}")
    return " ".join(p for p in parts if p)


def robots_table(robots: list[RobotInfo]) -> Table:
    """One row per robot: name, embodiment, online, heartbeat age, state summary, skills count."""
    table = Table(title="robots", show_edge=False)
    for column in ("robot", "embodiment", "online", "heartbeat", "state", "skills"):
        table.add_column(column, no_wrap=column != "state")
    for robot in robots:
        online = Text("● online", style="green") if robot.online else Text("○ offline", style="red")
        age = "" if robot.heartbeat_age_s is None else f"{robot.heartbeat_age_s:.1f} s ago"
        table.add_row(
            robot.name,
            robot.embodiment,
            online,
            age,
            robot_state_summary(robot.state),
            str(len(robot.skills)),
        )
    return table
