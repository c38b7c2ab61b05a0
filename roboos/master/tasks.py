"""Task records and their event streams: append-only events, watchers replay history then follow live."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from roboos.master.models import EventKind, Plan, Step, TaskEvent, TaskRecord, TaskStatus

M = TypeVar("M", Step, Plan)


class TaskLog:
    """One task: its :class:`TaskRecord` and the ordered :class:`TaskEvent` list (seq from 1)."""

    def __init__(self, record: TaskRecord, sink: Callable[[TaskRecord, TaskEvent], None] | None = None,
                 events: list[TaskEvent] | None = None) -> None:
        self.record = record
        self.events: list[TaskEvent] = list(events or [])  # past events (a task restored after a restart)
        self._next_seq = (self.events[-1].seq + 1) if self.events else 1
        self.done = asyncio.Event()
        self._changed = asyncio.Event()
        self._sink = sink

    def emit(self, kind: EventKind, message: str = "", *, step: Step | None = None,
             plan: Plan | None = None) -> TaskEvent:
        """Append an event (snapshots of ``step`` / ``plan`` are copied) and wake the watchers."""
        event = TaskEvent(task_id=self.record.id, seq=self._next_seq, kind=kind, status=self.record.status,
                          step=_snapshot(step), plan=_snapshot(plan), message=message)
        self.events.append(event)
        self._next_seq += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        if self._sink is not None:
            self._sink(self.record, event)
        return event

    def set_status(self, status: TaskStatus, message: str = "", *, reason: str | None = None) -> TaskEvent:
        """Change the task status and emit a ``status`` event; terminal statuses finish the task."""
        self.record.status = status
        if reason is not None:
            self.record.reason = reason
        if status.terminal:
            self.record.finished_at = time.time()
        event = self.emit("status", message or reason or status.value)
        if status.terminal:
            self.done.set()
        return event

    async def follow(self) -> AsyncIterator[TaskEvent]:
        """Every event from the first, then live ones, ending after the terminal status event."""
        index = 0
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                yield event
                if event.kind == "status" and event.status.terminal:
                    return
            await self._changed.wait()


def _snapshot(model: M | None) -> M | None:
    """A deep copy of a step or plan (dump + validate in pydantic's core: several times faster than
    ``model_copy(deep=True)``, which deep-copies in Python)."""
    return None if model is None else type(model).model_validate(model.model_dump())


def step_summary(step: Step) -> str:
    """``s3 rover1.pick(object=apple)`` — for messages and reasons."""
    args = ", ".join(f"{k}={v}" for k, v in step.args.items())
    return f"{step.id} {step.robot}.{step.skill}({args})"


def error_text(error: dict[str, Any] | None) -> str:
    if not error:
        return "unknown error"
    return f"{error.get('code', 'error')}: {error.get('message', '')}".strip()
