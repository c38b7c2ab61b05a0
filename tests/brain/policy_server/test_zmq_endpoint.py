"""The native ZeroMQ endpoint: RoboOS envelopes, pipelined requests, typed errors, bad frames."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from roboos.brain.policy_server.client import PolicyClient, PolicyRemoteError

from roboos.protocol import Envelope, MsgType, decode, encode


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_hello_infer_and_pipelining(served, good_obs):
    async def main():
        async with PolicyClient(served.server.zmq.endpoint) as client:
            meta = await client.metadata()
            assert meta["policy"] == "pi0"
            outs = await asyncio.gather(*(client.infer(good_obs) for _ in range(3)))
            return outs

    outs = _run(main())
    for out in outs:
        assert out["actions"].shape == (6, 8) and out["actions"].dtype == np.float32
        assert out["server_timing"]["infer_ms"] > 0


def test_bad_observation_is_a_typed_error(served, good_obs):
    async def main():
        async with PolicyClient(served.server.zmq.endpoint) as client:
            with pytest.raises(PolicyRemoteError) as info:
                await client.infer({"observation/state": good_obs["observation/state"]})
            assert info.value.code == "bad_observation" and "missing camera" in info.value.message
            with pytest.raises(PolicyRemoteError, match="unsupported"):
                await client.request(MsgType.CALL, {"skill": "x"})
            return await client.infer(good_obs)

    assert _run(main())["actions"].shape == (6, 8)


def test_malformed_frames_answered_and_server_survives(served, good_obs):
    import zmq
    import zmq.asyncio

    async def main():
        ctx = zmq.asyncio.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(served.server.zmq.endpoint)
        try:
            await sock.send_multipart([b"\x00garbage"])
            err = decode(await asyncio.wait_for(sock.recv_multipart(), 10))
            assert err.type == MsgType.ERROR and err.body["code"] == "malformed"
            env = Envelope(MsgType.OBSERVATION, {"observation": good_obs})
            await sock.send_multipart(encode(env))
            ok = decode(await asyncio.wait_for(sock.recv_multipart(), 30))
            assert ok.type == MsgType.ACTION and ok.reply_to == env.id
        finally:
            sock.close(0)
            ctx.term()

    _run(main())
