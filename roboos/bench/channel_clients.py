"""Client sides of ``roboos bench channel``: one timed request/reply loop per transport.

Every client keeps its connection open across rounds; ``measure(kind, n, progress)`` runs ``n`` timed
exchanges of ``kind`` (``"control"`` or ``"image"``) and returns the latencies in seconds; ``progress(n)`` is
called once after the batch, so no progress-bar code runs between timed exchanges.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from roboos.bench.channel_payloads import (
    control_call,
    frames_pack,
    frames_unpack,
    np_packb,
    np_unpackb,
    observation,
)

Progress = Callable[[int], None]
FROZEN_LOOP_S = 600.0  # liveness limit of the benchmark's channels (see RoboosChannelClient)
PAYLOADS = {"control": control_call(), "image": observation()}


def check_reply(kind: str, reply: dict[str, Any]) -> None:
    key = "actions" if kind == "image" else "ok"
    if key not in reply:
        raise RuntimeError(f"benchmark server answered without {key!r}: {sorted(reply)}")


class ZmqClient:
    """Bare pyzmq DEALER + msgpack (arrays as raw frames): the floor for ZeroMQ from Python."""

    def __init__(self, endpoint: str) -> None:
        import zmq

        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def measure(self, kind: str, n: int, progress: Progress) -> list[float]:
        payload, sock, out = PAYLOADS[kind], self.sock, []
        for _ in range(n):
            t0 = time.perf_counter()
            sock.send_multipart(frames_pack(payload), copy=False)
            reply = frames_unpack(sock.recv_multipart(copy=kind != "image"))
            out.append(time.perf_counter() - t0)
        progress(n)
        check_reply(kind, reply)
        return out

    def pipelined(self, kind: str, seconds: float, window: int) -> float:
        payload, sock = PAYLOADS[kind], self.sock
        for _ in range(window):
            sock.send_multipart(frames_pack(payload), copy=False)
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            frames_unpack(sock.recv_multipart(copy=kind != "image"))
            done += 1
            sock.send_multipart(frames_pack(payload), copy=False)
        elapsed = time.perf_counter() - start
        for _ in range(window):
            sock.recv_multipart()
        return done / elapsed

    def close(self) -> None:
        self.sock.close()
        self.ctx.term()


class WebsocketClient:
    """websockets sync client (as openpi's client) + msgpack-numpy."""

    def __init__(self, endpoint: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(endpoint, compression=None, max_size=None)

    def measure(self, kind: str, n: int, progress: Progress) -> list[float]:
        payload, ws, out = PAYLOADS[kind], self.ws, []
        for _ in range(n):
            t0 = time.perf_counter()
            ws.send(np_packb(payload))
            reply = np_unpackb(ws.recv())
            out.append(time.perf_counter() - t0)
        progress(n)
        check_reply(kind, reply)
        return out

    def pipelined(self, kind: str, seconds: float, window: int) -> float:
        payload, ws = PAYLOADS[kind], self.ws
        for _ in range(window):
            ws.send(np_packb(payload))
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            np_unpackb(ws.recv())
            done += 1
            ws.send(np_packb(payload))
        elapsed = time.perf_counter() - start
        for _ in range(window):
            ws.recv()
        return done / elapsed

    def close(self) -> None:
        self.ws.close()


class GrpcClient:
    """gRPC unary call (generic handler, bytes payloads carrying msgpack-numpy)."""

    def __init__(self, endpoint: str) -> None:
        import grpc

        from roboos.bench.channel_servers import GRPC_METHOD

        opts = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
        self.channel = grpc.insecure_channel(endpoint, options=opts)
        self.call = self.channel.unary_unary(GRPC_METHOD)

    def measure(self, kind: str, n: int, progress: Progress) -> list[float]:
        payload, call, out = PAYLOADS[kind], self.call, []
        for _ in range(n):
            t0 = time.perf_counter()
            reply = np_unpackb(call(np_packb(payload), timeout=10.0))
            out.append(time.perf_counter() - t0)
        progress(n)
        check_reply(kind, reply)
        return out

    def pipelined(self, kind: str, seconds: float, window: int) -> float:
        from collections import deque

        payload, call = PAYLOADS[kind], self.call
        pending = deque(call.future(np_packb(payload), timeout=30.0) for _ in range(window))
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            np_unpackb(pending.popleft().result())
            done += 1
            pending.append(call.future(np_packb(payload), timeout=30.0))
        elapsed = time.perf_counter() - start
        for fut in pending:
            fut.result()
        return done / elapsed

    def close(self) -> None:
        self.channel.close()


class RoboosChannelClient:
    """The RoboOS channel, both directions of its real use, on a private event loop.

    control: ``CloudChannel.call`` from here, answered by an ``EdgeChannel`` in a server process;
    image: ``EdgeChannel.request(OBSERVATION)`` from here, answered by a ``CloudChannel`` (policy role).
    """

    EDGE_ID = "bench-edge"

    def __init__(self, cloud_endpoint: str, start_edge_server: Callable[[str], Any]) -> None:
        from roboos.channel import CloudChannel, EdgeChannel
        from roboos.channel.loop import new_event_loop
        from roboos.protocol.messages import HelloBody

        self.loop = new_event_loop()
        # This process's event loop is frozen while the blocking baselines run: long liveness limits.
        self.cloud = CloudChannel("tcp://127.0.0.1:0", name="bench-cloud", heartbeat_timeout_s=FROZEN_LOOP_S)
        self.edge = EdgeChannel(cloud_endpoint, "bench-robot", HelloBody(robot="bench-robot", embodiment="arm"),
                                cloud_timeout_s=FROZEN_LOOP_S)
        self.edge_server: Any = None
        self.loop.run_until_complete(self._connect(start_edge_server))

    async def _connect(self, start_edge_server: Callable[[str], Any]) -> None:
        await self.cloud.start()
        # The edge process is started off-loop so this loop can answer its HELLO meanwhile.
        self.edge_server = await self.loop.run_in_executor(None, start_edge_server, self.cloud.endpoint)
        await self.edge.start(wait_welcome=30.0)
        for _ in range(300):
            if self.cloud.connected(self.EDGE_ID):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the benchmark's edge process did not register")

    def measure(self, kind: str, n: int, progress: Progress) -> list[float]:
        return self.loop.run_until_complete(self._measure(kind, n, progress))

    async def _measure(self, kind: str, n: int, progress: Progress) -> list[float]:
        from roboos.protocol import MsgType

        payload, out = PAYLOADS[kind], []
        cloud, edge = self.cloud, self.edge
        for _ in range(n):
            t0 = time.perf_counter()
            if kind == "control":
                reply = await cloud.call(self.EDGE_ID, payload, timeout=10.0)
            else:
                reply = await edge.request(MsgType.OBSERVATION, payload, timeout=10.0)
            out.append(time.perf_counter() - t0)
        progress(n)
        check_reply(kind, reply.body)
        return out

    def pipelined(self, kind: str, seconds: float, window: int) -> float:
        return self.loop.run_until_complete(self._pipelined(kind, seconds, window))

    async def _pipelined(self, kind: str, seconds: float, window: int) -> float:
        from roboos.protocol import MsgType

        payload, cloud, edge = PAYLOADS[kind], self.cloud, self.edge
        done = 0
        start = time.perf_counter()

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() - start < seconds:
                if kind == "control":
                    await cloud.call(self.EDGE_ID, payload, timeout=30.0)
                else:
                    await edge.request(MsgType.OBSERVATION, payload, timeout=30.0)
                done += 1

        await asyncio.gather(*(worker() for _ in range(window)))
        return done / (time.perf_counter() - start)

    def close(self) -> None:
        if self.edge_server is not None:
            self.edge_server.close()
        self.loop.run_until_complete(self.edge.close())
        self.loop.run_until_complete(self.cloud.close())
        self.loop.close()
