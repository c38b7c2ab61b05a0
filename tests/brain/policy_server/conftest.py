"""Fixtures: a tiny random π0 served in a background thread (its own event loop) on ephemeral ports."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import numpy as np
import pytest



def free_port() -> int:  # same as tests/conftest.py's helper (a conftest cannot import another by name)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """Runs a PolicyServer's event loop in a thread; ``stop()`` closes it and joins."""

    def __init__(self, policy, **kwargs):
        from roboos.brain.policy_server.server import PolicyServer

        self.server = PolicyServer(policy, **kwargs)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            await self.server.start()
            self._ready.set()
            await self._stop.wait()
            await self.server.close()

        self.loop.run_until_complete(main())

    def start(self) -> ServerThread:
        self.thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("policy server did not start")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(15)


@pytest.fixture(scope="module")
def tiny_pi0_policy():
    from roboos.brain.policies.pi0.policy import Pi0Policy

    return Pi0Policy.from_checkpoint(None, preset_name="tiny", seed=0)


@pytest.fixture(scope="module")
def served(tiny_pi0_policy) -> Iterator[ServerThread]:
    srv = ServerThread(tiny_pi0_policy, port=free_port(), zmq_bind=f"tcp://127.0.0.1:{free_port()}",
                       gather_ms=20.0).start()
    yield srv
    srv.stop()


@pytest.fixture
def good_obs() -> dict:
    rng = np.random.default_rng(0)
    return {"observation/image": rng.integers(0, 255, (48, 64, 3), dtype=np.uint8),
            "observation/state": rng.normal(size=5).astype(np.float32), "prompt": "pick up the cup"}
