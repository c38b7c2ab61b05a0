"""Memory fixtures: a real redis-server on loopback (skipped with a reason if the binary is missing) and
each backend (local, SQLite in a temp dir, Redis in its own namespace) behind the same interface."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from roboos.memory import HistoryLog, MemoryBackend, MemoryConfig, open_history, open_memory


def _free_port() -> int:  # tests/conftest.py's helper; a conftest cannot import another conftest by name
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a redis-server started for this test session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server binary not found (apt-get install -y redis-server)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir), "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


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
