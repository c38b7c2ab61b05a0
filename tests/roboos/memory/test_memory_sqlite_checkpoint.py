"""WAL checkpoints run on a background thread: writers' commits never checkpoint, the log still gets copied
into the database, and closing the store stops the thread."""

from __future__ import annotations

import functools
import sqlite3
import time
from pathlib import Path

import pytest

import roboos.memory.sqlite as sqlite_module
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


def _wal_frames(path: Path) -> int:
    """Frames the log file has room for (it is rewound, not truncated: its size is its high-water mark)."""
    wal = Path(f"{path}-wal")
    return max(0, wal.stat().st_size - 32) // (4096 + 24) if wal.exists() else 0


def test_a_busy_writer_gets_its_log_rewound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #11: with only PASSIVE checkpoints a writer that never pauses long never sees its log fully
    copied, so SQLite never rewinds it (``roboos bench load``: 3.2 GB in 4 min). Past ``restart_frames`` the
    thread runs a RESTART checkpoint and the log stays bounded."""
    monkeypatch.setattr(sqlite_module, "WalCheckpointer",
                        functools.partial(WalCheckpointer, interval_s=0.01, restart_frames=200))
    db = tmp_path / "cloud.db"
    memory = SQLiteMemory(db)
    checkpointer = memory._checkpointer
    assert checkpointer is not None and checkpointer.restart_frames == 200
    commits = 0
    while commits < 20_000 and (checkpointer.restarts < 3 or commits < 2000):
        memory.put("task", f"t{commits % 500}", {"status": "running", "pad": "x" * 2000})
        commits += 1
        time.sleep(0.0002)  # a loop that writes a few hundred times a second, with short gaps
    assert checkpointer.restarts >= 3
    # never rewound, the log holds ~3 frames per commit (63,689 after 20,000); rewound, far fewer (timing
    # on a loaded machine decides how many past the last rewind: bound it loosely)
    assert _wal_frames(db) < commits, f"log of {_wal_frames(db)} frames after {commits} commits"
    memory.close()
    plain = sqlite3.connect(db)
    assert plain.execute("SELECT count(*) FROM entities").fetchone()[0] == 500
    plain.close()


def test_restart_only_past_the_frame_limit(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    memory = SQLiteMemory(db)
    assert memory._checkpointer is not None
    memory._checkpointer.stop()  # this test drives the checkpoints itself
    checkpointer = WalCheckpointer(str(db), interval_s=3600, restart_frames=50)
    conn = sqlite3.connect(db, isolation_level=None)
    for i in range(10):
        memory.put("task", f"t{i}", {"pad": "x" * 100})
    checkpointer.step(conn)
    assert checkpointer.restarts == 0  # a short log: PASSIVE only
    for i in range(200):
        memory.put("task", f"u{i}", {"pad": "x" * 100})
    checkpointer.step(conn)
    assert checkpointer.restarts == 1
    conn.close()
    checkpointer.stop()
    memory.close()


def test_checkpointer_rejects_a_bad_frame_limit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="restart_frames"):
        WalCheckpointer(str(tmp_path / "x.db"), restart_frames=0)
