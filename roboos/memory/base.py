"""Interfaces of the shared spatiotemporal memory and of the history log.

**Memory** holds entities ``(kind, name) -> dict`` with a version and an update time: scene objects and
places, one entry per robot (no keys shared between robots) and one per task. Updates are either
attribute merges applied atomically across entities (:meth:`MemoryBackend.apply`, used for skill effects
and robot state) or whole-value compare-and-set writes (:meth:`MemoryBackend.put` with
``expect_version``). Backends: in-process dict, SQLite (WAL, survives restarts), Redis (shared by hosts).

**History** is an append-only log of numbered entries (task, plan, step, call, result, error, state,
robot events...) with random access by sequence number, time range, robot, task and kind, retention limits,
and content-addressed blobs for large payloads (stored once, referenced by SHA-256).
"""

from __future__ import annotations

import abc
import hashlib
import json
import random
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

KINDS = ("object", "place", "robot", "task", "meta")


class MemoryStoreError(RuntimeError):
    """Base class of memory and history errors."""


class VersionConflict(MemoryStoreError):
    """A compare-and-set write lost: the entity's version is not the expected one."""

    def __init__(self, kind: str, name: str, expected: int | None, actual: int | None) -> None:
        super().__init__(f"{kind}:{name}: expected version {expected}, found {actual}")
        self.kind, self.name, self.expected, self.actual = kind, name, expected, actual


@dataclass(frozen=True)
class Entry:
    """One entity: its value, a version that grows by one per write, and the time of the last write."""

    kind: str
    name: str
    value: dict[str, Any]
    version: int
    updated_at: float


@dataclass(frozen=True)
class Change:
    """Set ``attribute`` of entity ``kind:name`` to ``value`` (creating the entity if needed)."""

    kind: str
    name: str
    attribute: str
    value: Any


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown memory kind '{kind}' (kinds: {', '.join(KINDS)})")
    return kind


def group_changes(changes: Iterable[Change]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(kind, name): {attribute: value}}`` in first-seen order; later changes win."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for change in changes:
        check_kind(change.kind)
        grouped.setdefault((change.kind, change.name), {})[change.attribute] = change.value
    return grouped


def dumps(value: Any) -> str:
    """Canonical compact JSON (what every backend stores)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class MemoryBackend(abc.ABC):
    """Entity store with atomic multi-entity merges and compare-and-set writes."""

    name = "memory"

    @abc.abstractmethod
    def get(self, kind: str, name: str) -> Entry | None:
        """The entity, or ``None``."""

    @abc.abstractmethod
    def all(self, kind: str) -> dict[str, Entry]:
        """Every entity of a kind, by name."""

    @abc.abstractmethod
    def apply(self, changes: Iterable[Change]) -> dict[tuple[str, str], int]:
        """Merge attribute changes atomically (all or nothing); returns the new version of each entity."""

    @abc.abstractmethod
    def put(self, kind: str, name: str, value: Mapping[str, Any], *, expect_version: int | None = None) -> int:
        """Replace an entity's value; with ``expect_version`` (0 = must not exist) only if it matches,
        else :class:`VersionConflict`. Returns the new version."""

    @abc.abstractmethod
    def delete(self, kind: str, name: str) -> bool:
        """Remove an entity; ``True`` if it existed."""

    @abc.abstractmethod
    def clear(self, kinds: Iterable[str] = KINDS) -> None:
        """Remove every entity of the given kinds."""

    def close(self) -> None:
        """Release connections."""

    def batch(self) -> AbstractContextManager[Any]:
        """``with memory.batch():`` — group writes into one transaction where the backend can (SQLite:
        this store's writes and those of a history sharing its connection); elsewhere a no-op."""
        return nullcontext()

    def values(self, kind: str) -> dict[str, dict[str, Any]]:
        """``{name: value}`` of a kind."""
        return {name: entry.value for name, entry in self.all(kind).items()}

    def update(self, kind: str, name: str, fn: Any, *, attempts: int = 500) -> Entry:
        """Read-modify-write with compare-and-set: ``fn(value) -> new value``, retried on conflicts
        (with a short random back-off, so many writers of one key all get through)."""
        for attempt in range(attempts):
            current = self.get(kind, name)
            new = fn(dict(current.value) if current else {})
            try:
                version = self.put(kind, name, new, expect_version=current.version if current else 0)
            except VersionConflict:
                time.sleep(random.uniform(0, 0.0005 * min(attempt + 1, 20)))
                continue
            return Entry(kind, name, dict(new), version, time.time())
        raise VersionConflict(kind, name, None, None)


@dataclass(frozen=True)
class HistoryEntry:
    """One history record. ``blobs`` maps a payload name to the SHA-256 of the stored bytes."""

    seq: int
    ts: float
    kind: str
    task: str = ""
    robot: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    blobs: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, "task": self.task, "robot": self.robot,
                "data": self.data, "blobs": self.blobs}


@dataclass(frozen=True)
class Record:
    """An entry to append (the log assigns ``seq``; ``ts`` defaults to now)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    task: str = ""
    robot: str = ""
    ts: float | None = None
    blobs: dict[str, bytes] = field(default_factory=dict)


def blob_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class HistoryLog(abc.ABC):
    """Append-only, numbered log with indexed queries, retention and content-addressed blobs."""

    name = "history"

    def append(self, kind: str, data: Mapping[str, Any] | None = None, *, task: str = "", robot: str = "",
               ts: float | None = None, blobs: Mapping[str, bytes] | None = None) -> int:
        """Append one entry; returns its sequence number."""
        return self.append_many([Record(kind, dict(data or {}), task, robot, ts, dict(blobs or {}))])[-1]

    @abc.abstractmethod
    def append_many(self, records: Iterable[Record]) -> list[int]:
        """Append entries in one transaction; returns their sequence numbers (increasing)."""

    @abc.abstractmethod
    def get(self, seq: int) -> HistoryEntry | None:
        """The entry with that sequence number (``None`` if absent or pruned)."""

    @abc.abstractmethod
    def query(self, *, task: str | None = None, robot: str | None = None, kind: str | None = None,
              after_seq: int = 0, start_ts: float | None = None, end_ts: float | None = None,
              limit: int = 1000, newest_first: bool = False) -> list[HistoryEntry]:
        """Entries matching every given filter, in sequence order (or newest first), at most ``limit``."""

    @abc.abstractmethod
    def last_seq(self) -> int:
        """The highest sequence number handed out (0 for an empty log)."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many entries are stored now."""

    @abc.abstractmethod
    def get_blob(self, digest: str) -> bytes | None:
        """A stored payload by its SHA-256 hex digest."""

    @abc.abstractmethod
    def prune(self, *, max_entries: int | None = None, max_age_s: float | None = None) -> int:
        """Drop the oldest entries beyond ``max_entries`` / older than ``max_age_s`` and unreferenced
        blobs; returns how many entries were removed."""

    def close(self) -> None:
        """Release connections."""
