"""Shared spatiotemporal memory (world, robots, tasks) and the history log; SQLite, Redis or in-process."""

from __future__ import annotations

from pathlib import Path

from roboos.memory.base import (
    Change,
    Entry,
    HistoryEntry,
    HistoryLog,
    MemoryBackend,
    MemoryStoreError,
    Record,
    VersionConflict,
)
from roboos.memory.config import HistoryConfig, MemoryConfig

__all__ = [
    "Change",
    "Entry",
    "HistoryConfig",
    "HistoryEntry",
    "HistoryLog",
    "MemoryBackend",
    "MemoryConfig",
    "MemoryStoreError",
    "Record",
    "VersionConflict",
    "open_history",
    "open_memory",
]


def open_memory(config: MemoryConfig) -> MemoryBackend:
    """The memory backend named by ``config.backend``."""
    if config.backend == "redis":
        from roboos.memory.redis_backend import RedisMemory

        return RedisMemory(config.redis_url, config.namespace)
    if config.backend == "sqlite":
        from roboos.memory.sqlite import SQLiteMemory

        return SQLiteMemory(config.path)
    from roboos.memory.local import LocalMemory

    return LocalMemory()


def open_history(config: MemoryConfig, memory: MemoryBackend | None = None) -> HistoryLog:
    """The history log: Redis for the redis backend, else SQLite at ``history.path`` (default: ``path``
    for the sqlite backend, an in-process database for the local one). A SQLite history in the same
    file as a SQLite ``memory`` shares its connection, so :meth:`MemoryBackend.batch` can commit the
    writes of both in one transaction."""
    if config.backend == "redis":
        from roboos.memory.redis_backend import RedisHistory

        return RedisHistory(config.redis_url, config.namespace)
    from roboos.memory.sqlite import SQLiteHistory, SQLiteMemory

    path = config.history.path or (config.path if config.backend == "sqlite" else ":memory:")
    if isinstance(memory, SQLiteMemory) and path != ":memory:" and memory.path == str(Path(path).expanduser()):
        return SQLiteHistory(path, share=memory)
    return SQLiteHistory(path)
