"""Hostile or broken peers: malformed frames, version mismatch, oversized messages, no registration."""

from __future__ import annotations

import asyncio

import msgpack
import numpy as np
import zmq

from roboos.channel import CloudChannel, EdgeChannel
from roboos.protocol import PROTOCOL_VERSION, Envelope, Limits, MsgType, decode, encode
from roboos.protocol.messages import HelloBody


async def _raw_exchange(endpoint: str, identity: bytes, messages: list[list[bytes]], replies: int,
                        timeout: float = 5.0) -> list[Envelope]:
    """Send raw multipart messages from a plain DEALER and collect ``replies`` decoded answers."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, identity)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    out: list[Envelope] = []
    try:
        for frames in messages:
            sock.send_multipart(frames)
        deadline = asyncio.get_running_loop().time() + timeout
        while len(out) < replies and asyncio.get_running_loop().time() < deadline:
            if sock.poll(0):
                env = decode(sock.recv_multipart())
                if env.type is not MsgType.HEARTBEAT:
                    out.append(env)
            else:
                await asyncio.sleep(0.01)  # let the cloud (same loop) run
    finally:
        sock.close()
    return out


def _hello(robot: str) -> list[bytes]:
    return [bytes(f) for f in encode(Envelope(MsgType.HELLO, HelloBody(robot=robot, embodiment="arm").model_dump()))]


def test_malformed_frames_get_error_replies_and_cloud_keeps_serving(run) -> None:
    async def main() -> None:
        async with CloudChannel("tcp://127.0.0.1:0") as cloud:
            bad_version = msgpack.packb([PROTOCOL_VERSION + 1, "state", "i", None, 0, "", "", {}])
            replies = await _raw_exchange(cloud.endpoint, b"evil", [
                [b"\xc1\xc1"],  # not msgpack
                [bad_version],
                [msgpack.packb([PROTOCOL_VERSION, "state", "i", None, 0, "", "", {}]), b"extra frame"],
                [bytes(f) for f in encode(Envelope(MsgType.STATE, {"state": {}}))],  # not registered
            ], replies=4)
            codes = [r.body["code"] for r in replies]
            assert codes == ["malformed", "version_mismatch", "malformed", "not_registered"]
            assert all(r.type is MsgType.ERROR for r in replies)
            assert cloud.stats.dropped_malformed == 2 and cloud.stats.dropped_version == 1
            # and real robots are still served
            edge = EdgeChannel(cloud.endpoint, "ok", HelloBody(robot="ok", embodiment="arm"))
            edge.on_call = lambda env: {"ok": True}
            await edge.start(wait_welcome=5)
            assert (await cloud.call("ok", {}, timeout=5)).body == {"ok": True}
            await edge.close()

    run(main())


def test_bad_hello_is_refused(run) -> None:
    async def main() -> None:
        async with CloudChannel("tcp://127.0.0.1:0") as cloud:
            wrong_name = _hello("someone-else")
            no_embodiment = [msgpack.packb([PROTOCOL_VERSION, "hello", "h2", None, 0, "", "", {"robot": "x"}])]
            replies = await _raw_exchange(cloud.endpoint, b"x", [wrong_name, no_embodiment], replies=2)
            assert sorted(r.body["code"] for r in replies) == ["bad_body", "bad_hello"]
            assert not cloud.links()

    run(main())


def test_oversized_message_rejected_with_error(run, until) -> None:
    async def main() -> None:
        limits = Limits(max_envelope_bytes=2048, max_frame_bytes=64 << 10)
        got: list[Envelope] = []
        async with CloudChannel("tcp://127.0.0.1:0", limits=limits) as cloud:
            cloud.on_message = lambda env: got.append(env)
            edge = EdgeChannel(cloud.endpoint, "r1", HelloBody(robot="r1", embodiment="arm"))
            await edge.start(wait_welcome=5)
            await edge.send(MsgType.STATE, {"state": {"blob": "x" * 10_000}})  # envelope over the limit
            await until(lambda: cloud.stats.dropped_too_large == 1, what="oversized envelope counted")
            await until(lambda: edge.stats.errors_received == 1, what="too_large error back at the edge")
            # a frame over MAXMSGSIZE is cut by ZeroMQ itself (the peer is disconnected, memory untouched)
            await edge.send(MsgType.OBSERVATION, {"img": np.zeros(1 << 20, np.uint8)})
            for _ in range(200):  # ZeroMQ reconnects the edge; messages flow again
                await edge.send(MsgType.STATE, {"state": {"ok": 1}})
                await asyncio.sleep(0.05)
                if any(e.body.get("state") == {"ok": 1} for e in got):
                    break
            assert any(e.body.get("state") == {"ok": 1} for e in got)
            assert not any(e.type is MsgType.OBSERVATION for e in got)
            await edge.close()

    run(main())


def test_edge_survives_garbage_from_a_fake_cloud(run, until) -> None:
    async def main() -> None:
        ctx = zmq.Context.instance()
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        edge = EdgeChannel(f"tcp://127.0.0.1:{port}", "r1", HelloBody(robot="r1", embodiment="arm"),
                           heartbeat_interval_s=0.05)
        await edge.start(wait_welcome=None)
        await until(lambda: router.poll(0) != 0, what="HELLO at the fake cloud")
        ident = router.recv_multipart()[0]
        router.send_multipart([ident, b"\x00garbage"])
        router.send_multipart([ident, msgpack.packb([99, "welcome", "w", None, 0, "", "", {}])])
        await until(lambda: edge.stats.dropped_malformed == 1 and edge.stats.dropped_version == 1,
                    what="edge counted the bad frames")
        assert not edge.connected
        errors = []
        while router.poll(200):
            env = decode(router.recv_multipart()[1:])
            if env.type is MsgType.ERROR:
                errors.append(env.body["code"])
        assert {"malformed", "version_mismatch"} <= set(errors)
        await edge.close()
        router.close()

    run(main())
