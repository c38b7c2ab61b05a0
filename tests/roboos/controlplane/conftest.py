"""A real cloud for control-plane tests: Master + two sim edge agents + the gRPC control plane.

Everything runs on one asyncio loop in a background thread, so tests use the blocking
:class:`~roboos.controlplane.client.ControlClient` directly, as the CLI does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest
from roboos.edge.config import load_edge_config
from roboos.edge.runner import build_agents

from roboos.controlplane.server import ControlPlane, start_control_plane
from roboos.master import CloudConfig
from roboos.master.master import Master

T = TypeVar("T")


class CloudHarness:
    """Master, edge agents and control plane on a private event loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="cloud-harness", daemon=True)
        self._thread.start()
        self.worlds: dict[str, Any] = {}
        self.master: Master | None = None
        self.control: ControlPlane | None = None
        self.agents: list[Any] = []
        self._agent_runs: list[asyncio.Task[None]] = []

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        """Run a coroutine on the harness loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    async def _start(self) -> None:
        self.master = Master(CloudConfig(bind="tcp://127.0.0.1:0"))
        await self.master.start()
        endpoint = self.master.channel.endpoint
        edge = load_edge_config(overrides=[f"cloud={endpoint}", "time_scale=0", "state_rate_hz=20"])
        self.agents = build_agents(edge, worlds=self.worlds)
        for agent in self.agents:
            await agent.start()
        self._agent_runs = [asyncio.create_task(agent.run()) for agent in self.agents]
        self.control = await start_control_plane(self.master, "127.0.0.1:0")

    def start(self) -> None:
        self.run(self._start())
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            robots = self.master.list_robots() if self.master else []
            if len(robots) == len(self.agents) and all(r.online and r.state for r in robots):
                return
            time.sleep(0.05)
        raise TimeoutError("the sim edge agents did not register with the master")

    def set_time_scale(self, scale: float) -> None:
        """Slow down (or speed up) every simulated motion from now on."""
        for world in self.worlds.values():
            world.time_scale = scale

    async def _stop(self) -> None:
        if self.control is not None:
            await self.control.stop(0.2)
        for agent in self.agents:
            await agent.stop()
        await asyncio.gather(*self._agent_runs, return_exceptions=True)
        for agent in self.agents:
            await agent.close()
        if self.master is not None:
            await self.master.stop()
        # like asyncio.run: cancel what is left (e.g. helper tasks the edge agents started)
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            self.loop.close()

    @property
    def address(self) -> str:
        assert self.control is not None
        return self.control.address


@pytest.fixture(scope="module")
def cloud() -> Iterator[CloudHarness]:
    """A running cloud with two sim robots (arm1, rover1) and its control plane on a random port."""
    harness = CloudHarness()
    try:
        harness.start()
        yield harness
    finally:
        harness.stop()
