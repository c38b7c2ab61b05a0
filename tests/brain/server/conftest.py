"""Brain-server fixtures: a tiny random RoboBrain checkpoint served by the real server (uvicorn in a thread
on a free port). Its answers are random text: tests check protocol, batching, errors and the parse-error
path end to end; parsing of well-formed answers is covered with recorded answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from brain_server_rig import MODEL, ServerThread, start_server
from roboos.brain.robobrain.tiny import make_tiny_robobrain


@pytest.fixture(scope="session")
def brain_dir(tmp_path_factory) -> Path:
    return make_tiny_robobrain(tmp_path_factory.mktemp("brain") / MODEL)


@pytest.fixture(scope="session")
def brain_server(brain_dir) -> Iterator[ServerThread]:
    server, _app = start_server(brain_dir, batch_window_ms=150.0, max_batch_size=4)
    yield server
    server.stop()
