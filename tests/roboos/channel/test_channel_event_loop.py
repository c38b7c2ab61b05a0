"""The event-loop chooser: uvloop when installed (overridable), and the channel working on either loop."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from roboos.channel import loop as channel_loop
from roboos.protocol import Envelope


def test_env_var_picks_asyncio_and_rejects_unknown(monkeypatch) -> None:
    monkeypatch.setenv(channel_loop.ENV_VAR, "asyncio")
    assert channel_loop.loop_name() == "asyncio"
    loop = channel_loop.new_event_loop()
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()
    with pytest.raises(ValueError, match="auto, uvloop or asyncio"):
        channel_loop.loop_name("fastest")


def test_missing_uvloop_falls_back(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_uvloop(name, *args, **kwargs):
        if name == "uvloop":
            raise ImportError("no uvloop here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert channel_loop.loop_name("auto") == "asyncio"
    with pytest.raises(RuntimeError, match="not installed"):
        channel_loop.loop_name("uvloop")


@pytest.mark.parametrize("kind", ["asyncio", "uvloop"])
def test_call_round_trip_on_each_loop(kind, pair) -> None:
    if kind == "uvloop":
        pytest.importorskip("uvloop")

    async def on_call(env: Envelope) -> dict:
        return {"ok": True, "value": {"echo": env.body["args"]["x"]}}

    async def main() -> str:
        async with pair(on_call=on_call) as (cloud, edge):
            x = np.arange(6, dtype=np.float32)
            for _ in range(20):
                reply = await cloud.call("r1", {"skill": "s", "args": {"x": x}}, timeout=5)
                np.testing.assert_array_equal(reply.body["value"]["echo"], x)
            assert edge.connected and cloud.connected("r1")
        return type(asyncio.get_running_loop()).__module__

    module = channel_loop.run(asyncio.wait_for(main(), 30), kind)
    assert module.startswith(kind)


@pytest.mark.parametrize("woke", [True, False])
def test_pump_lets_a_woken_waiter_run_before_reading_on(woke: bool) -> None:
    """A message that completes a waiter ends the drain: the waiter runs before the next message is read."""
    import zmq

    from roboos.channel.transport import SocketPump

    async def main() -> list[object]:
        loop = asyncio.get_running_loop()
        ctx = zmq.Context()
        reader, writer = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
        reader.bind("inproc://pump-order")
        writer.connect("inproc://pump-order")
        order: list[object] = []
        done = loop.create_future()

        def on_message(frames: list[object]) -> bool:
            order.append(frames[0])
            if frames[0] == b"reply":
                loop.call_soon(order.append, "waiter")  # what Future.set_result does for an awaiting task
                return woke
            done.set_result(None)
            return False

        pump = SocketPump(reader, on_message, name="test")
        pump.start(loop)
        await asyncio.sleep(0.01)  # the pump's first drain finds the socket empty
        for message in (b"reply", b"next"):
            writer.send(message)
        try:
            await asyncio.wait_for(done, 5)
            await asyncio.sleep(0)
        finally:
            pump.stop()
            reader.close(0)
            writer.close(0)
            ctx.term()
        return order

    order = channel_loop.run(main())
    assert order == ([b"reply", "waiter", b"next"] if woke else [b"reply", b"next", "waiter"])
