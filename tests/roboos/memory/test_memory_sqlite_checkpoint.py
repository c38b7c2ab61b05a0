"""WAL checkpoints run on a background thread: writers' commits never checkpoint, the log still gets copied
into the database, and closing the store stops the thread."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from roboos.memory.sqlite import SQLiteMemory
from roboos.memory.sqlite_checkpoint import WalCheckpointer


def test_writer_does_not_checkpoint_and_the_thread_does(tmp_path: Path) -> None:
    memory = SQLiteMemory(tmp_path / "cloud.db")
    checkpointer = memory._checkpointer
    assert checkpointer is not None and checkpointer._thread.is_alive()
    assert memory._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for i in range(200):
        memory.put("task", f"t{i}", {"status": "running", "pad": "x" * 500})
    deadline = time.monotonic() + 10
    while checkpointer.frames_checkpointed == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpointer.frames_checkpointed > 0, "the background thread copied the log into the database"
    memory.close()
    assert not checkpointer._thread.is_alive()
    plain = sqlite3.connect(tmp_path / "cloud.db")  # everything committed is in the file
    assert plain.execute("SELECT count(*) FROM entities").fetchone()[0] == 200
    plain.close()


def test_in_memory_database_has_no_checkpointer() -> None:
    memory = SQLiteMemory(":memory:")
    assert memory._checkpointer is None
    memory.put("task", "t1", {"status": "running"})
    memory.close()


def test_checkpointer_rejects_a_bad_interval(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interval_s"):
        WalCheckpointer(str(tmp_path / "x.db"), interval_s=0)
