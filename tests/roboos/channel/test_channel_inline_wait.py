"""Replies from fast peers are awaited on the socket itself (``ChannelCore._await_reply``), never at the
expense of the event loop: one loop turn per request, a bounded wait, and a back-off when it runs out."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

from roboos.channel import CloudChannel, EdgeChannel
from roboos.protocol import Envelope
from roboos.protocol.messages import HelloBody

FAST = {"heartbeat_interval_s": 0.05, "heartbeat_timeout_s": 5.0}


@contextlib.asynccontextmanager
async def edge_in_thread(endpoint: str, delay_s: float = 0.0) -> AsyncIterator[EdgeChannel]:
    """An EdgeChannel answering calls (after ``delay_s``) on its own loop in another thread, like a robot
    process would: the cloud's loop can block on its socket while this one answers."""
    loop = asyncio.new_event_loop()
    edge = EdgeChannel(endpoint, "r1", HelloBody(robot="r1", embodiment="arm"), heartbeat_interval_s=0.05,
                       cloud_timeout_s=5.0)

    async def on_call(env: Envelope) -> dict[str, Any]:
        if delay_s:
            await asyncio.sleep(delay_s)
        return {"ok": True, "value": env.body["args"]["i"]}

    edge.on_call = on_call
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(edge.start(wait_welcome=10.0), loop))
    try:
        yield edge
    finally:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(edge.close(), loop))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _count_inline_waits(cloud: CloudChannel) -> list[bool]:
    """Record, for each inline wait of ``cloud``, whether it ended with the reply in hand."""
    pump = cloud._pump
    assert pump is not None
    real, outcomes = pump.wait_inline, []

    def spy(done: Any, budget_s: float) -> None:
        real(done, budget_s)
        outcomes.append(done())

    pump.wait_inline = spy  # type: ignore[method-assign]
    return outcomes


async def _calls(cloud: CloudChannel, n: int) -> None:
    for i in range(n):
        reply = await cloud.call("r1", {"skill": "s", "args": {"i": i}}, timeout=5)
        assert reply.body["value"] == i


def test_fast_replies_are_awaited_on_the_socket_and_the_loop_keeps_turning(run, until, monkeypatch) -> None:
    monkeypatch.setattr("roboos.channel.base.INLINE_BACKOFF_S", 0.0)  # a busy test machine may miss a budget

    async def main() -> None:
        cloud = CloudChannel("tcp://127.0.0.1:0", **FAST, inline_wait_s=0.05)
        await cloud.start()
        try:
            async with edge_in_thread(cloud.endpoint):
                await until(lambda: cloud.connected("r1"), what="registration")
                outcomes = _count_inline_waits(cloud)
                turns = 0

                async def ticker() -> None:
                    nonlocal turns
                    while True:
                        await asyncio.sleep(0)
                        turns += 1

                tick = asyncio.create_task(ticker())
                await _calls(cloud, 200)
                tick.cancel()
                assert len(outcomes) >= 190 and sum(outcomes) >= 180, outcomes  # the first call has no history
                assert turns >= 150  # every call gave the loop a turn while its request travelled
        finally:
            await cloud.close()

    run(main())


def test_slow_peers_and_a_zero_budget_never_block_the_loop(run, until) -> None:
    async def main() -> None:
        for cloud_kw, delay in (({"inline_wait_s": 0.0}, 0.0), ({}, 0.005)):
            cloud = CloudChannel("tcp://127.0.0.1:0", **FAST, **cloud_kw)
            await cloud.start()
            try:
                async with edge_in_thread(cloud.endpoint, delay_s=delay):
                    await until(lambda c=cloud: c.connected("r1"), what="registration")
                    outcomes = _count_inline_waits(cloud)
                    await _calls(cloud, 20)
                    assert outcomes == []
            finally:
                await cloud.close()

    run(main())


def test_a_wait_that_runs_out_backs_off_for_that_peer(run, pair) -> None:
    """Cloud and edge on one loop: the edge cannot answer while the cloud blocks, so the first inline wait
    runs out; the call still succeeds through the loop and the peer is left alone for the back-off."""

    async def on_call(env: Envelope) -> dict[str, Any]:
        return {"ok": True, "value": env.body["args"]["i"]}

    async def main() -> None:
        async with pair(on_call=on_call) as (cloud, _edge):
            outcomes = _count_inline_waits(cloud)
            await _calls(cloud, 30)
            assert outcomes == [False]
            assert "r1" in cloud._inline_backoff

    run(main())
