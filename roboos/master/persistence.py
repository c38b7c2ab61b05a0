"""The master's link to shared memory and history: task records, the history log, recovery after restarts.

Every task event is written twice: the task's :class:`TaskRecord` (with its plan and step statuses) to the
memory entity ``task:<id>``, and the event itself to the history log (kind ``task.<event kind>``), so a
restarted cloud can rebuild each task and its event stream. Robot arrivals, departures, EVENT messages
and (sampled) STATE messages go to the history too. Retention runs every ``prune_every`` appends; finished
task records are dropped beyond ``memory.tasks`` (newest ``max_finished``, ``max_age_days``) as tasks finish
and at start.

Group commit: on the event loop, the writes of one loop turn share one transaction (where the backend
can: SQLite memory and history in one file), committed by a callback queued behind the first of them.
A task record changed by several events in one turn is written once, as it stands at the commit (the
world model's writes join the turn too: :meth:`Persistence.join_turn`).
Anything that could reveal a write to the outside (a reply to the caller) is queued after it, so it runs
after the commit, and the executor commits explicitly (:meth:`Persistence.commit`) before it sends a
CALL, so a step's call id is on disk before the robot can move: a crash loses only writes nobody has
seen acknowledged. Without a running loop every write commits on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from pydantic import ValidationError

from roboos.master.models import TaskEvent, TaskRecord
from roboos.memory import (
    HistoryLog,
    MemoryBackend,
    MemoryConfig,
    MemoryStoreError,
    Record,
    open_history,
    open_memory,
)

log = logging.getLogger("roboos.master.persistence")

TASK_EVENT_PREFIX = "task."
STATE_BATCH = 100  # sampled STATEs written in one transaction ...
STATE_BATCH_S = 0.1  # ... or after this long, whichever comes first


class Persistence:
    """Memory + history of one master; write failures are logged, never fatal to a running task."""

    def __init__(self, config: MemoryConfig, memory: MemoryBackend | None = None,
                 history: HistoryLog | None = None) -> None:
        self.config = config
        self.memory = memory if memory is not None else open_memory(config)
        hist = config.history
        self.history: HistoryLog | None = history if history is not None else (open_history(config, self.memory) if hist.enabled else None)
        self._appends = 0
        self.max_entries = hist.max_entries  # an in-process history lives in RAM: it gets a smaller bound
        if getattr(self.history, "path", None) == ":memory:":
            self.max_entries = min(hist.max_entries or hist.max_entries_in_process, hist.max_entries_in_process)
        self._state_at: dict[str, float] = {}
        self._states: list[Record] = []  # sampled STATEs not yet written (one transaction per batch)
        self._states_flushed_at = time.monotonic()
        self._turn: Any = None  # the open transaction of this loop turn (group commit)
        self._records: dict[str, TaskRecord] = {}  # task records changed in this turn, written at its commit
        self._finished: deque[tuple[float, str]] = deque()  # (finished at, id) of stored finished tasks, oldest first

    def close(self) -> None:
        self.flush_states()
        self._end_turn()
        self.memory.close()
        if self.history is not None:
            self.history.close()

    # ------------------------------------------------------------------------------------ writing
    def task_event(self, record: TaskRecord, event: TaskEvent) -> None:
        """Append the event and save the record (the TaskLog sink), in one transaction where the memory
        and the history share a SQLite file; in a loop turn the record is saved once, at the commit."""
        step = event.step
        if self.join_turn():
            self._records[record.id] = record
        else:
            self._save(record)
        self.append(TASK_EVENT_PREFIX + event.kind, event.model_dump(mode="json"), task=record.id,
                    robot=step.robot if step is not None else "")
        if event.kind == "status" and event.status.terminal:
            self._finished.append((record.finished_at or event.ts, record.id))
            self.prune_tasks()

    def prune_tasks(self, now: float | None = None) -> int:
        """Drop the stored records of finished tasks beyond ``memory.tasks`` (the oldest first); returns how
        many went. Unfinished tasks are never dropped."""
        keep = self.config.tasks
        oldest_kept = (now or time.time()) - keep.max_age_days * 86400 if keep.max_age_days else None
        removed = 0
        while self._finished and ((keep.max_finished is not None and len(self._finished) > keep.max_finished)
                                  or (oldest_kept is not None and self._finished[0][0] < oldest_kept)):
            _, task_id = self._finished.popleft()
            self._records.pop(task_id, None)  # not re-saved by this turn's commit
            try:
                removed += self.memory.delete("task", task_id)
            except MemoryStoreError as exc:
                log.error("cannot drop the record of finished task %s: %s", task_id, exc)
        return removed

    def _save(self, record: TaskRecord) -> None:
        try:
            self.memory.put("task", record.id, record.model_dump(mode="json"))
        except MemoryStoreError as exc:  # Redis down: the task goes on, the problem is logged
            log.error("cannot save task %s: %s", record.id, exc)

    def join_turn(self) -> bool:
        """Open this loop turn's transaction (once per turn); ``False`` (nothing opened) without a running
        loop, where every write commits on its own."""
        if self._turn is not None:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        turn = self.memory.batch()
        turn.__enter__()
        self._turn = turn
        loop.call_soon(self._end_turn)
        return True

    def commit(self) -> None:
        """Commit this loop turn's writes now (the executor calls it before sending a CALL)."""
        self._end_turn()

    def _end_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            records, self._records = self._records, {}
            for record in records.values():
                self._save(record)
            try:
                turn.__exit__(None, None, None)
            except Exception as exc:  # noqa: BLE001 - e.g. disk full: logged like any failed write
                log.error("cannot commit the memory writes of this turn: %s", exc)

    def append(self, kind: str, data: dict[str, Any], *, task: str = "", robot: str = "") -> None:
        self._append([Record(kind, data, task, robot)])

    def _append(self, records: list[Record]) -> None:
        if self.history is None or not records:
            return
        self.join_turn()
        try:
            self.history.append_many(records)
        except MemoryStoreError as exc:
            log.error("cannot append %s to the history: %s", records[0].kind, exc)
            return
        hist = self.config.history
        before, self._appends = self._appends, self._appends + len(records)
        if self._appends // hist.prune_every != before // hist.prune_every and (self.max_entries or hist.max_age_days):
            removed = self.history.prune(max_entries=self.max_entries,
                                         max_age_s=hist.max_age_days * 86400 if hist.max_age_days else None)
            if removed:
                log.info("history retention removed %d entries", removed)

    def robot_event(self, robot: str, kind: str, data: dict[str, Any]) -> None:
        self.append(f"robot.{kind}", data, robot=robot)

    def robot_state(self, robot: str, state: dict[str, Any]) -> None:
        """Sample a STATE into the history, at most every ``history.state_sample_s`` per robot. Samples
        are written in batches (one transaction per ``STATE_BATCH_S`` or ``STATE_BATCH`` samples)."""
        every = self.config.history.state_sample_s
        if every is None or self.history is None:
            return
        now = time.monotonic()
        if now - self._state_at.get(robot, -1e9) >= every:
            self._state_at[robot] = now
            self._states.append(Record("robot.state", state, robot=robot, ts=time.time()))
        if len(self._states) >= STATE_BATCH or (self._states and now - self._states_flushed_at >= STATE_BATCH_S):
            self.flush_states()

    def flush_states(self) -> None:
        """Write the sampled STATEs held back so far."""
        batch, self._states = self._states, []
        self._states_flushed_at = time.monotonic()
        self._append(batch)

    # ----------------------------------------------------------------------------------- reading
    def load_tasks(self, recent: int = 200) -> list[TaskRecord]:
        """Every unfinished task and the ``recent`` newest finished ones, oldest first; finished records
        beyond ``memory.tasks`` are dropped first (:meth:`prune_tasks`)."""
        records = []
        for name, entry in self.memory.all("task").items():
            try:
                records.append(TaskRecord.model_validate(entry.value))
            except ValidationError as exc:
                log.warning("ignoring unreadable task record %s: %s", name, exc.errors(include_url=False)[:1])
        records.sort(key=lambda r: r.created_at)
        finished = [r for r in records if r.status.terminal]
        self._finished = deque(sorted((r.finished_at or r.created_at, r.id) for r in finished))
        dropped = self.prune_tasks()
        if dropped:
            log.info("task retention dropped %d finished task records", dropped)
        kept = {task_id for _, task_id in self._finished}
        done = [r for r in finished if r.id in kept][-recent:] if recent else []
        keep = {r.id for r in done} | {r.id for r in records if not r.status.terminal}
        return [r for r in records if r.id in keep]

    def task_events(self, task_id: str) -> list[TaskEvent]:
        """The task's past events from the history (empty without a history)."""
        if self.history is None:
            return []
        events = []
        after = 0
        while True:
            page = self.history.query(task=task_id, after_seq=after, limit=1000)
            if not page:
                break
            after = page[-1].seq
            for entry in page:
                if entry.kind.startswith(TASK_EVENT_PREFIX):
                    try:
                        events.append(TaskEvent.model_validate(entry.data))
                    except ValidationError:
                        log.warning("ignoring unreadable history entry %d", entry.seq)
        return events

    def recent_lines(self, task_id: str, limit: int = 12) -> list[str]:
        """Human-readable recent history of a task, oldest first (fed to planners on replans)."""
        if self.history is None:
            return []
        entries = self.history.query(task=task_id, limit=limit, newest_first=True)
        lines = []
        for entry in reversed(entries):
            message = entry.data.get("message") if isinstance(entry.data, dict) else None
            if message:
                lines.append(f"[{time.strftime('%H:%M:%S', time.localtime(entry.ts))}] {message}")
        return lines
