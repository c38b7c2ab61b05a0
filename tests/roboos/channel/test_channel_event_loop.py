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
