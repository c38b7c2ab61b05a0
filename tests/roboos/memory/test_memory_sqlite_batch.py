"""SQLite memory and history in one file share a connection: ``batch()`` commits both in one transaction
(or rolls both back), and retention by count reads only the ends of the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from roboos.memory import MemoryConfig, Record, open_history, open_memory
from roboos.memory.local import LocalMemory
from roboos.memory.sqlite import SQLiteHistory, SQLiteMemory


def test_history_in_the_memory_file_shares_its_connection_and_batches_commit_together(tmp_path: Path) -> None:
    config = MemoryConfig(backend="sqlite", path=str(tmp_path / "cloud.db"))
    memory = open_memory(config)
    history = open_history(config, memory)
    assert isinstance(history, SQLiteHistory) and history._conn is memory._conn
    with memory.batch():
        memory.put("task", "t1", {"status": "running"})
        history.append("task.status", {"status": "running"}, task="t1")
        reader = SQLiteMemory(tmp_path / "cloud.db")  # another connection sees nothing before the commit
        assert reader.get("task", "t1") is None
    assert reader.get("task", "t1").value == {"status": "running"} and history.count() == 1
    with pytest.raises(RuntimeError), memory.batch():
        memory.put("task", "t2", {"status": "running"})
        history.append("task.status", {}, task="t2")
        raise RuntimeError("boom")
    assert memory.get("task", "t2") is None and history.count() == 1, "both writes rolled back"
    history.close()
    assert memory.get("task", "t1") is not None, "the connection stays open for its other user"
    memory.close()
    reader.close()


def test_separate_files_and_other_backends_do_not_share(tmp_path: Path) -> None:
    config = MemoryConfig(backend="sqlite", path=str(tmp_path / "a.db"), history={"path": str(tmp_path / "b.db")})
    memory = open_memory(config)
    history = open_history(config, memory)
    assert history._conn is not memory._conn
    local = LocalMemory()
    with local.batch():  # a no-op for the in-process store
        local.put("task", "t", {"a": 1})
    assert local.get("task", "t").value == {"a": 1}


def test_retention_by_count_keeps_the_newest(tmp_path: Path) -> None:
    history = SQLiteHistory(tmp_path / "h.db")
    for _ in range(3):
        history.append_many([Record(kind="state", data={"i": i}, robot="r1") for i in range(400)])
    assert history.prune(max_entries=250) == 950
    assert history.count() == 250 and history.query(limit=1)[0].seq == 951
    assert history.prune(max_entries=250) == 0



@pytest.mark.parametrize("upsert", [True, False], ids=["one-statement upsert", "read-then-write (SQLite < 3.35)"])
def test_sqlite_put_bumps_the_version_with_or_without_upsert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             upsert: bool) -> None:
    import roboos.memory.sqlite as sqlite_backend

    monkeypatch.setattr(sqlite_backend, "_UPSERT_RETURNING", upsert)
    memory = SQLiteMemory(tmp_path / "cloud.db")
    assert [memory.put("task", "t1", {"n": i}) for i in range(3)] == [1, 2, 3]
    assert memory.get("task", "t1").value == {"n": 2} and memory.get("task", "t1").version == 3
    assert memory.put("task", "t2", {"n": 0}) == 1
    memory.close()
