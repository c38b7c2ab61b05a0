"""Fixtures for channel tests: a coroutine runner with a hard timeout and a cloud+edge pair factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from roboos.channel import CloudChannel, EdgeChannel
from roboos.protocol.messages import HelloBody

FAST = {"heartbeat_interval_s": 0.05, "heartbeat_timeout_s": 1.0}


@pytest.fixture
def run() -> Callable[[Awaitable[Any]], Any]:
    """Run a coroutine to completion on a fresh loop, failing after 30 s."""

    def _run(coro: Awaitable[Any], timeout: float = 30.0) -> Any:
        async def main() -> Any:
            return await asyncio.wait_for(coro, timeout)

        return asyncio.run(main())

    return _run


@pytest.fixture
def pair() -> Callable[..., contextlib.AbstractAsyncContextManager[tuple[CloudChannel, EdgeChannel]]]:
    """``async with pair(robot="r1", cloud_kw={}, edge_kw={}, on_call=...) as (cloud, edge)``."""

    @contextlib.asynccontextmanager
    async def _pair(robot: str = "r1", *, cloud_kw: dict[str, Any] | None = None,
                    edge_kw: dict[str, Any] | None = None, on_call: Any = None,
                    start_edge: bool = True) -> AsyncIterator[tuple[CloudChannel, EdgeChannel]]:
        cloud = CloudChannel("tcp://127.0.0.1:0", **{**FAST, **(cloud_kw or {})})
        await cloud.start()
        edge = EdgeChannel(cloud.endpoint, robot, HelloBody(robot=robot, embodiment="arm"),
                           **{"heartbeat_interval_s": 0.05, "cloud_timeout_s": 1.0, **(edge_kw or {})})
        if on_call is not None:
            edge.on_call = on_call
        try:
            if start_edge:
                await edge.start(wait_welcome=10.0)
            yield cloud, edge
        finally:
            await edge.close()
            await cloud.close()

    return _pair


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` every 10 ms (tests only)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def until() -> Callable[..., Awaitable[None]]:
    return wait_until
