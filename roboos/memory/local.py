"""In-process memory backend: a dict behind a lock (no persistence; one process)."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from roboos.memory.base import KINDS, Change, Entry, MemoryBackend, VersionConflict, check_kind, group_changes


class LocalMemory(MemoryBackend):
    """Thread-safe dict store; values are deep-copied in and out."""

    name = "local"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str], Entry] = {}

    def get(self, kind: str, name: str) -> Entry | None:
        with self._lock:
            entry = self._data.get((check_kind(kind), name))
            return None if entry is None else Entry(kind, name, copy.deepcopy(entry.value), entry.version,
                                                    entry.updated_at)

    def all(self, kind: str) -> dict[str, Entry]:
        check_kind(kind)
        with self._lock:
            return {n: Entry(k, n, copy.deepcopy(e.value), e.version, e.updated_at)
                    for (k, n), e in self._data.items() if k == kind}

    def apply(self, changes: Iterable[Change]) -> dict[tuple[str, str], int]:
        grouped = group_changes(changes)
        now = time.time()
        out = {}
        with self._lock:
            for key, attrs in grouped.items():
                old = self._data.get(key)
                value = dict(old.value) if old else {}
                value.update(copy.deepcopy(attrs))
                version = (old.version if old else 0) + 1
                self._data[key] = Entry(key[0], key[1], value, version, now)
                out[key] = version
        return out

    def put(self, kind: str, name: str, value: Mapping[str, Any], *, expect_version: int | None = None) -> int:
        key = (check_kind(kind), name)
        with self._lock:
            old = self._data.get(key)
            actual = old.version if old else 0
            if expect_version is not None and expect_version != actual:
                raise VersionConflict(kind, name, expect_version, actual)
            self._data[key] = Entry(kind, name, copy.deepcopy(dict(value)), actual + 1, time.time())
            return actual + 1

    def delete(self, kind: str, name: str) -> bool:
        with self._lock:
            return self._data.pop((check_kind(kind), name), None) is not None

    def clear(self, kinds: Iterable[str] = KINDS) -> None:
        wanted = {check_kind(k) for k in kinds}
        with self._lock:
            for key in [k for k in self._data if k[0] in wanted]:
                del self._data[key]
