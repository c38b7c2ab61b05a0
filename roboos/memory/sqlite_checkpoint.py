"""WAL checkpoints of a SQLite file on a background thread instead of inside a writer's COMMIT.

By default SQLite checkpoints the write-ahead log inside whichever COMMIT pushes it past 1000 pages, and that
commit then waits for ``fsync`` of the log and the database file. For the cloud that commit runs on the event
loop: measured on the 2-core VM, 1 % of small WAL commits took over 2 ms and the slowest 17 ms, stalling
dispatch and message handling. With ``wal_autocheckpoint`` off on the writing connection, a
:class:`WalCheckpointer` runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval_s`` from its own connection
(the sqlite3 module releases the GIL while SQLite works): a PASSIVE checkpoint never waits for readers or
writers, so the writers' commits only append to the log.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("roboos.memory")

CHECKPOINT_INTERVAL_S = 0.5


class WalCheckpointer:
    """A daemon thread checkpointing the WAL of ``path`` every ``interval_s`` until :meth:`stop`."""

    def __init__(self, path: str, interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0
        self.frames_checkpointed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint:{path}", daemon=True)
        self._thread.start()

    def checkpoint(self, db: sqlite3.Connection, mode: str = "PASSIVE") -> None:
        """One checkpoint on ``db`` (errors are logged: a busy file is checkpointed next time)."""
        try:
            busy, _log_frames, done = db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
            return
        self.checkpoints += 1
        self.frames_checkpointed += max(done, 0)

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.error("cannot open %s for WAL checkpoints (the log grows until the next restart): %s",
                      self.path, exc)
            return
        try:
            while not self._stop.wait(self.interval_s):
                self.checkpoint(db)
            self.checkpoint(db)  # what the last interval wrote
        finally:
            db.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Checkpoint once more and end the thread."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
