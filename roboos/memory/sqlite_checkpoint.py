"""WAL checkpoints of a SQLite file on a background thread instead of inside a writer's COMMIT.

By default SQLite checkpoints the write-ahead log inside whichever COMMIT pushes it past 1000 pages, and that
commit then waits for ``fsync`` of the log and the database file. For the cloud that commit runs on the event
loop: measured on the 2-core VM, 1 % of small WAL commits took over 2 ms and the slowest 17 ms, stalling
dispatch and message handling. With ``wal_autocheckpoint`` off on the writing connection, a
:class:`WalCheckpointer` runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval_s`` from its own connection
(the sqlite3 module releases the GIL while SQLite works): a PASSIVE checkpoint never waits for readers or
writers, so the writers' commits only append to the log.

A PASSIVE checkpoint alone never lets a busy log start over: SQLite rewinds the log only when a writer
begins while every frame is already in the database, and a writer committing hundreds of times a second
has always appended more since the checkpoint began (measured: ``roboos bench load`` grew the log to
3.2 GB in 4 minutes, and its index, mapped into the cloud's memory, to 6 MB resident). So once the log holds
``restart_frames`` frames the thread runs one RESTART checkpoint, right after a PASSIVE one (little
is left to copy): it holds the writers off while it copies that rest and syncs, and the next
commit starts the log from its beginning. The log stays near ``restart_frames`` pages.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("roboos.memory")

CHECKPOINT_INTERVAL_S = 0.5
RESTART_FRAMES = 16384  # 64 MiB of 4 KiB pages: the log is rewound (a blocking RESTART) beyond this
RESTART_BUSY_MS = 2000  # how long a RESTART waits for the writers' lock before trying next interval


class WalCheckpointer:
    """A daemon thread checkpointing the WAL of ``path`` every ``interval_s`` until :meth:`stop`."""

    def __init__(self, path: str, interval_s: float = CHECKPOINT_INTERVAL_S,
                 restart_frames: int = RESTART_FRAMES) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        if restart_frames <= 0:
            raise ValueError(f"restart_frames must be positive, got {restart_frames}")
        self.path = path
        self.interval_s = interval_s
        self.restart_frames = restart_frames
        self.checkpoints = 0
        self.frames_checkpointed = 0
        self.restarts = 0  # RESTART checkpoints that completed (the next commit rewinds the log)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint:{path}", daemon=True)
        self._thread.start()

    def checkpoint(self, db: sqlite3.Connection, mode: str = "PASSIVE") -> tuple[int, int] | None:
        """One checkpoint on ``db``; returns ``(busy, frames in the log)``, or ``None`` on an error (logged:
        a busy file is checkpointed next time)."""
        try:
            busy, log_frames, done = db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
            return None
        self.checkpoints += 1
        self.frames_checkpointed += max(done, 0)
        return busy, log_frames

    def step(self, db: sqlite3.Connection) -> None:
        """A PASSIVE checkpoint; then, if the log holds ``restart_frames`` or more, a RESTART one."""
        out = self.checkpoint(db)
        if out is not None and out[1] >= self.restart_frames:
            restart = self.checkpoint(db, "RESTART")
            if restart is not None and restart[0] == 0:
                self.restarts += 1

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.error("cannot open %s for WAL checkpoints (the log grows until the next restart): %s",
                      self.path, exc)
            return
        try:
            db.execute(f"PRAGMA busy_timeout={RESTART_BUSY_MS}")
            while not self._stop.wait(self.interval_s):
                self.step(db)
            self.checkpoint(db)  # what the last interval wrote
        finally:
            db.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Checkpoint once more and end the thread."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
