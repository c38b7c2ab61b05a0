"""Retention of finished task records in the memory store (``memory.tasks``): the oldest finished records go
beyond ``max_finished`` or past ``max_age_days``, as tasks finish and at start; unfinished tasks always stay."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from roboos.master.models import TaskRecord, TaskStatus
from roboos.master.persistence import Persistence
from roboos.master.tasks import TaskLog
from roboos.memory import MemoryConfig


def persistence(tmp_path: Path | None = None, **tasks: object) -> Persistence:
    backend = {"backend": "sqlite", "path": str(tmp_path / "cloud.db")} if tmp_path else {"backend": "local"}
    return Persistence(MemoryConfig.model_validate({**backend, "tasks": tasks}))


def stored(p: Persistence) -> set[str]:
    return set(p.memory.all("task"))


def finish(p: Persistence, task_id: str, status: TaskStatus = TaskStatus.succeeded) -> TaskLog:
    task = TaskLog(TaskRecord(id=task_id, instruction="go"), sink=p.task_event)
    task.set_status(TaskStatus.running)
    task.set_status(status)
    return task


def test_finished_records_beyond_max_finished_go_oldest_first_and_unfinished_stay() -> None:
    p = persistence(max_finished=2)
    running = TaskLog(TaskRecord(id="t-running", instruction="go"), sink=p.task_event)
    running.set_status(TaskStatus.running)
    for i in range(4):
        finish(p, f"t{i}", TaskStatus.failed if i == 1 else TaskStatus.succeeded)
    assert stored(p) == {"t-running", "t2", "t3"}
    assert p.history.query(task="t0"), "the history keeps its own retention"


def test_records_dropped_in_a_turn_are_not_written_back_by_its_commit() -> None:
    p = persistence(max_finished=1)

    async def one_turn() -> None:  # both tasks finish in one loop turn: one transaction
        finish(p, "a")
        finish(p, "b")
        await asyncio.sleep(0)

    asyncio.run(one_turn())
    assert stored(p) == {"b"}


def test_start_drops_old_and_surplus_finished_records(tmp_path: Path) -> None:
    now = time.time()
    p = persistence(tmp_path, max_finished=2, max_age_days=30)
    old = now - 40 * 86400
    records = [
        TaskRecord(id="old-done", instruction="go", status=TaskStatus.succeeded, created_at=old, finished_at=old),
        TaskRecord(id="old-running", instruction="go", status=TaskStatus.running, created_at=old),
        *(TaskRecord(id=f"done{i}", instruction="go", status=TaskStatus.succeeded, created_at=now - 100 + i,
                     finished_at=now - 50 + i) for i in range(3)),
    ]
    for record in records:
        p.memory.put("task", record.id, record.model_dump(mode="json"))
    p.close()

    p = persistence(tmp_path, max_finished=2, max_age_days=30)
    loaded = [r.id for r in p.load_tasks()]
    assert loaded == ["old-running", "done1", "done2"]
    assert stored(p) == {"old-running", "done1", "done2"}
    finish(p, "new")
    assert stored(p) == {"old-running", "done2", "new"}
    p.close()


def test_null_limits_keep_every_record_and_bad_limits_are_refused() -> None:
    p = persistence(max_finished=None, max_age_days=None)
    for i in range(5):
        finish(p, f"t{i}")
    assert len(stored(p)) == 5
    assert p.prune_tasks(now=time.time() + 1e9) == 0
    with pytest.raises(ValidationError, match="max_finished"):
        MemoryConfig.model_validate({"tasks": {"max_finished": 0}})
    with pytest.raises(ValidationError, match="keep_forever"):
        MemoryConfig.model_validate({"tasks": {"keep_forever": True}})
