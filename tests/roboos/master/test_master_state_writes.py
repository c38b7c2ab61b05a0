"""Robot STATE at fleet rates costs few store writes, and the in-process history stays bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from roboos.master.persistence import STATE_BATCH, Persistence
from roboos.master.world import LAST_SEEN_BATCH, WorldModel
from roboos.memory import Change, MemoryConfig
from roboos.memory.local import LocalMemory
from roboos.memory.sqlite import SQLiteHistory


class CountingMemory(LocalMemory):
    """An in-process store that counts its ``apply`` calls."""

    def __init__(self) -> None:
        super().__init__()
        self.applies = 0

    def apply(self, changes: Iterable[Change]) -> dict[tuple[str, str], int]:
        self.applies += 1
        return super().apply(changes)


def test_last_seen_of_many_robots_is_written_in_few_batches() -> None:
    store = CountingMemory()
    world = WorldModel(store=store, last_seen_every_s=1000.0)
    robots = [f"r{i}" for i in range(200)]
    for _ in range(5):  # five STATEs per robot, nothing changes but the time
        for r in robots:
            world.apply_robot_state(r, {"status": "idle"})
    status_writes = len(robots)  # the first STATE of each robot changes "status": written at once
    assert store.applies <= status_writes + len(robots) // LAST_SEEN_BATCH + 1
    assert store.get("robot", "r7").value["status"] == "idle" and "last_seen" in store.get("robot", "r7").value
    world.apply_robot_state("r7", {"status": "busy"})  # a real change is written at once
    assert store.get("robot", "r7").value["status"] == "busy"


def test_state_samples_are_appended_in_batches_and_flushed_on_close() -> None:
    config = MemoryConfig(backend="local", history={"state_sample_s": 0.000001})
    persistence = Persistence(config)
    calls: list[int] = []
    original = persistence.history.append_many

    def counting(records: Iterable[Any]) -> list[int]:
        batch = list(records)
        calls.append(len(batch))
        return original(batch)

    persistence.history.append_many = counting  # type: ignore[method-assign]
    for i in range(STATE_BATCH * 2 + 7):
        persistence.robot_state(f"r{i % 10}", {"seq": i})
    assert len(calls) <= 20 and sum(calls) >= STATE_BATCH * 2  # transactions, not one per sample
    persistence.close()  # writes the rest
    assert sum(calls) == STATE_BATCH * 2 + 7


def test_in_process_history_is_bounded() -> None:
    config = MemoryConfig(backend="local", history={"max_entries_in_process": 50, "prune_every": 10,
                                                    "max_age_days": None})
    persistence = Persistence(config)
    assert persistence.max_entries == 50
    for i in range(1000):
        persistence.append("robot.event", {"i": i}, robot="r1")
    assert persistence.history is not None and persistence.history.count() <= 60
    assert persistence.history.query(newest_first=True, limit=1)[0].data == {"i": 999}
    persistence.close()


def test_writes_of_one_loop_turn_commit_together_before_anything_queued_after_them(tmp_path: Path) -> None:
    config = MemoryConfig(backend="sqlite", path=str(tmp_path / "cloud.db"))
    persistence = Persistence(config)
    reader = SQLiteHistory(tmp_path / "cloud.db")
    seen: list[int] = []

    async def main() -> None:
        persistence.append("robot.event", {"i": 1}, robot="r1")
        persistence.append("robot.event", {"i": 2}, robot="r1")
        assert reader.count() == 0, "not committed within the turn"
        asyncio.get_running_loop().call_soon(lambda: seen.append(reader.count()))  # queued after the writes
        await asyncio.sleep(0)

    asyncio.run(main())
    assert seen == [2]
    persistence.append("robot.event", {"i": 3}, robot="r1")  # no loop: committed at once
    assert reader.count() == 3
    persistence.close()
    reader.close()


def test_a_task_record_changed_by_many_events_in_one_turn_is_written_once_as_it_stands(tmp_path: Path) -> None:
    from roboos.master.models import TaskRecord, TaskStatus
    from roboos.master.tasks import TaskLog
    from roboos.memory.sqlite import SQLiteMemory

    config = MemoryConfig(backend="sqlite", path=str(tmp_path / "cloud.db"))
    persistence = Persistence(config)
    world = WorldModel(store=persistence.memory)
    world.before_write = persistence.join_turn
    reader = SQLiteMemory(tmp_path / "cloud.db")
    puts: list[str] = []
    original = persistence.memory.put

    def counting(kind: str, name: str, value: Any, **kw: Any) -> int:
        puts.append(name)
        return original(kind, name, value, **kw)

    persistence.memory.put = counting  # type: ignore[method-assign]

    async def main() -> None:
        task = TaskLog(TaskRecord(id="t1", instruction="go"), sink=persistence.task_event)
        task.emit("status", "accepted")
        task.set_status(TaskStatus.running, "running")
        world.update_robot("arm1", current_task="t1")  # joins the same transaction
        assert reader.get("task", "t1") is None and reader.get("robot", "arm1") is None
        persistence.commit()  # as the executor does before a CALL: on disk now
        assert puts == ["t1"] and reader.get("task", "t1").value["status"] == "running"
        assert reader.get("robot", "arm1").value["current_task"] == "t1"
        task.set_status(TaskStatus.succeeded, "done")
        await asyncio.sleep(0)  # the turn's commit

    asyncio.run(main())
    assert puts == ["t1", "t1"] and reader.get("task", "t1").value["status"] == "succeeded"
    assert persistence.history is not None and persistence.history.count() == 3  # every event is kept
    persistence.close()
    reader.close()
