"""Memory fixtures: each backend (local, SQLite in a temp dir, Redis in its own namespace on the session's
redis-server from tests/conftest.py's ``redis_url``) behind the same interface."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from roboos.memory import HistoryLog, MemoryBackend, MemoryConfig, open_history, open_memory


def memory_config(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> MemoryConfig:
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        return MemoryConfig(backend="redis", redis_url=url, namespace=f"t{uuid.uuid4().hex[:10]}")
    return MemoryConfig(backend=kind, path=str(tmp_path / "memory.db"))


@pytest.fixture(params=["local", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def mem_config(request: pytest.FixtureRequest, tmp_path: Path) -> MemoryConfig:
    return memory_config(request.param, tmp_path, request)


@pytest.fixture
def memory(mem_config: MemoryConfig) -> Iterator[MemoryBackend]:
    store = open_memory(mem_config)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryLog]:
    log = open_history(memory_config(request.param, tmp_path, request))
    yield log
    log.close()
