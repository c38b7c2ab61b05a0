"""SQLite backends (WAL): the embedded default. No server; survives restarts; safe across threads and
processes (``BEGIN IMMEDIATE`` transactions, busy timeout)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from roboos.memory.base import (
    KINDS,
    Change,
    Entry,
    HistoryEntry,
    HistoryLog,
    MemoryBackend,
    MemoryStoreError,
    Record,
    VersionConflict,
    blob_hash,
    check_kind,
    dumps,
    group_changes,
)
from roboos.memory.sqlite_checkpoint import WalCheckpointer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, version INTEGER NOT NULL,
    updated_at REAL NOT NULL, PRIMARY KEY (kind, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, kind TEXT NOT NULL, task TEXT NOT NULL DEFAULT '',
    robot TEXT NOT NULL DEFAULT '', data TEXT NOT NULL, blobs TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS history_task_seq ON history (task, seq);
CREATE INDEX IF NOT EXISTS history_robot_seq ON history (robot, seq);
CREATE INDEX IF NOT EXISTS history_kind ON history (kind, seq);
CREATE INDEX IF NOT EXISTS history_ts ON history (ts);
CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
"""


# Write a value and bump its version in one statement (SQLite 3.35+; older libraries read, then write).
_UPSERT_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
_UPSERT = ("INSERT INTO entities VALUES (?,?,?,1,?) ON CONFLICT (kind, name) DO UPDATE SET value=excluded.value, "
           "version=entities.version+1, updated_at=excluded.updated_at RETURNING version")


class _Conn:
    """A connection, its lock, the nesting depth of the transaction it is in and the WAL checkpointer of its
    file (``None`` in memory); shareable."""

    def __init__(self, db: sqlite3.Connection, checkpointer: WalCheckpointer | None) -> None:
        self.db, self.lock, self.depth, self.users = db, threading.RLock(), 0, 1
        self.checkpointer = checkpointer


class _SQLite:
    """One connection per object (or one shared by the memory and the history of one file, see
    :func:`roboos.memory.open_history`), serialised by a lock; WAL journal, NORMAL sync, 10 s busy timeout.
    A file database is checkpointed by a :class:`WalCheckpointer` thread, not inside the writers' commits."""

    def __init__(self, path: str | Path, *, share: _SQLite | None = None) -> None:
        if share is not None:
            self.path, self._conn = share.path, share._conn
            self._conn.users += 1
            self._db, self._lock = self._conn.db, self._conn.lock  # the schema (one for both) exists
            return
        self.path = str(path)
        on_disk = self.path != ":memory:"
        if on_disk:
            self.path = str(Path(self.path).expanduser())
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise MemoryStoreError(f"cannot create the folder of {self.path}: {exc.strerror or exc}") from None
        try:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=10000")
            if on_disk:
                db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"cannot open the SQLite database {self.path}: {exc}") from None
        self._conn = _Conn(db, WalCheckpointer(self.path) if on_disk else None)
        self._db, self._lock = db, self._conn.lock

    @property
    def _checkpointer(self) -> WalCheckpointer | None:
        return self._conn.checkpointer

    def _tx(self) -> _Tx:
        return _Tx(self._conn)

    def batch(self) -> _Tx:
        """``with store.batch():`` — the writes inside (of this store, and of a history sharing its
        connection) commit together in one transaction."""
        return _Tx(self._conn)

    def close(self) -> None:
        with self._lock:
            self._conn.users -= 1
            if self._conn.users <= 0:
                if self._checkpointer is not None:
                    self._checkpointer.stop()
                self._db.close()


class _Tx:
    """``with self._tx() as db:`` — a ``BEGIN IMMEDIATE`` transaction (rolled back on error). Nested
    transactions on one connection join the outermost one, which alone commits or rolls back."""

    def __init__(self, conn: _Conn) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        conn = self.conn
        conn.lock.acquire()
        if conn.depth == 0:
            try:
                conn.db.execute("BEGIN IMMEDIATE")
            except BaseException:
                conn.lock.release()
                raise
        conn.depth += 1
        return conn.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        conn = self.conn
        conn.depth -= 1
        try:
            if conn.depth == 0:
                conn.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            conn.lock.release()


class SQLiteMemory(_SQLite, MemoryBackend):
    """Entities in one SQLite table; merges and CAS run in ``BEGIN IMMEDIATE`` transactions."""

    name = "sqlite"

    def get(self, kind: str, name: str) -> Entry | None:
        with self._lock:
            row = self._db.execute("SELECT value, version, updated_at FROM entities WHERE kind=? AND name=?",
                                   (check_kind(kind), name)).fetchone()
        return None if row is None else Entry(kind, name, json.loads(row[0]), row[1], row[2])

    def all(self, kind: str) -> dict[str, Entry]:
        with self._lock:
            rows = self._db.execute("SELECT name, value, version, updated_at FROM entities WHERE kind=?",
                                    (check_kind(kind),)).fetchall()
        return {r[0]: Entry(kind, r[0], json.loads(r[1]), r[2], r[3]) for r in rows}

    def apply(self, changes: Iterable[Change]) -> dict[tuple[str, str], int]:
        grouped = group_changes(changes)
        now, out = time.time(), {}
        with self._tx() as db:
            for (kind, name), attrs in grouped.items():
                row = db.execute("SELECT value, version FROM entities WHERE kind=? AND name=?", (kind, name)).fetchone()
                value = json.loads(row[0]) if row else {}
                value.update(attrs)
                version = (row[1] if row else 0) + 1
                db.execute("INSERT OR REPLACE INTO entities VALUES (?,?,?,?,?)", (kind, name, dumps(value), version, now))
                out[(kind, name)] = version
        return out

    def put(self, kind: str, name: str, value: Mapping[str, Any], *, expect_version: int | None = None) -> int:
        check_kind(kind)
        text = dumps(dict(value))
        with self._tx() as db:
            if expect_version is None and _UPSERT_RETURNING:  # one statement instead of read + write
                return int(db.execute(_UPSERT, (kind, name, text, time.time())).fetchone()[0])
            row = db.execute("SELECT version FROM entities WHERE kind=? AND name=?", (kind, name)).fetchone()
            actual = row[0] if row else 0
            if expect_version is not None and expect_version != actual:
                raise VersionConflict(kind, name, expect_version, actual)
            db.execute("INSERT OR REPLACE INTO entities VALUES (?,?,?,?,?)", (kind, name, text, actual + 1, time.time()))
        return actual + 1

    def delete(self, kind: str, name: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM entities WHERE kind=? AND name=?", (check_kind(kind), name)).rowcount > 0

    def clear(self, kinds: Iterable[str] = KINDS) -> None:
        wanted = [check_kind(k) for k in kinds]
        with self._tx() as db:
            db.executemany("DELETE FROM entities WHERE kind=?", [(k,) for k in wanted])


class SQLiteHistory(_SQLite, HistoryLog):
    """History rows with indexes on task, robot, kind and time; blobs keyed by SHA-256."""

    name = "sqlite"

    def append_many(self, records: Iterable[Record]) -> list[int]:
        now = time.time()
        seqs = []
        with self._tx() as db:
            for rec in records:
                digests = {}
                for label, payload in rec.blobs.items():
                    digest = blob_hash(payload)
                    db.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?)", (digest, payload))
                    digests[label] = digest
                cur = db.execute("INSERT INTO history (ts, kind, task, robot, data, blobs) VALUES (?,?,?,?,?,?)",
                                 (rec.ts if rec.ts is not None else now, rec.kind, rec.task, rec.robot,
                                  dumps(rec.data), dumps(digests) if digests else ""))
                seqs.append(int(cur.lastrowid))
        return seqs

    def get(self, seq: int) -> HistoryEntry | None:
        with self._lock:
            row = self._db.execute("SELECT seq, ts, kind, task, robot, data, blobs FROM history WHERE seq=?",
                                   (seq,)).fetchone()
        return None if row is None else _entry(row)

    def query(self, *, task: str | None = None, robot: str | None = None, kind: str | None = None,
              after_seq: int = 0, start_ts: float | None = None, end_ts: float | None = None,
              limit: int = 1000, newest_first: bool = False) -> list[HistoryEntry]:
        where, args = ["seq > ?"], [after_seq]
        for column, value in (("task", task), ("robot", robot), ("kind", kind)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if start_ts is not None:
            where.append("ts >= ?")
            args.append(start_ts)
        if end_ts is not None:
            where.append("ts < ?")
            args.append(end_ts)
        # a pure time-range query reads the time index (SQLite would otherwise walk the log in seq order)
        hint = " INDEXED BY history_ts" if (start_ts is not None or end_ts is not None) and task is None \
            and robot is None else ""
        sql = (f"SELECT seq, ts, kind, task, robot, data, blobs FROM history{hint} WHERE {' AND '.join(where)} "
               f"ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?")
        with self._lock:
            rows = self._db.execute(sql, (*args, max(0, int(limit)))).fetchall()
        return [_entry(r) for r in rows]

    def last_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='history'").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM history").fetchone()[0])

    def get_blob(self, digest: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM blobs WHERE digest=?", (digest,)).fetchone()
        return None if row is None else bytes(row[0])

    def prune(self, *, max_entries: int | None = None, max_age_s: float | None = None) -> int:
        removed = 0
        with self._tx() as db:
            if max_age_s is not None:
                removed += db.execute("DELETE FROM history WHERE ts < ?", (time.time() - max_age_s,)).rowcount
            if max_entries is not None:
                # keep the sequence numbers (newest - max_entries, newest]: at most ``max_entries`` entries,
                # found from the two ends of the primary key (an OFFSET or a COUNT would read the whole log)
                lo, hi = db.execute("SELECT MIN(seq), MAX(seq) FROM history").fetchone()
                if hi is not None and hi - lo + 1 > max(0, max_entries):
                    removed += db.execute("DELETE FROM history WHERE seq <= ?", (hi - max(0, max_entries),)).rowcount
            if removed and db.execute("SELECT 1 FROM blobs LIMIT 1").fetchone() is not None:
                referenced: set[str] = set()
                for (text,) in db.execute("SELECT blobs FROM history WHERE blobs != ''"):
                    referenced.update(json.loads(text).values())
                stored = [d for (d,) in db.execute("SELECT digest FROM blobs")]
                db.executemany("DELETE FROM blobs WHERE digest=?", [(d,) for d in stored if d not in referenced])
        return removed


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    return HistoryEntry(seq=row[0], ts=row[1], kind=row[2], task=row[3], robot=row[4], data=json.loads(row[5]),
                        blobs=json.loads(row[6]) if row[6] else {})
