"""Server processes of ``roboos bench channel``: the answering side of every transport under test.

Run as ``python -m roboos.bench.channel_servers KIND ENDPOINT``; prints ``READY <endpoint>`` once
serving and exits when its stdin closes (so it never outlives the benchmark). Kinds: ``zmq`` (bare
ROUTER + msgpack), ``ws`` (websockets + msgpack-numpy, asyncio server like openpi's), ``grpc`` (unary
generic handler with bytes payloads), ``channel-edge`` (an EdgeChannel answering calls) and
``channel-cloud`` (a CloudChannel answering observations with action chunks).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any

from roboos.bench.channel_payloads import (
    action_chunk,
    control_result,
    frames_pack,
    frames_unpack,
    np_packb,
    np_unpackb,
)
from roboos.channel.loop import run as run_loop

GRPC_METHOD = "/roboos.bench.Bench/Exchange"


_ACTION, _RESULT = action_chunk(), control_result()


def _reply_for(msg: dict[str, Any]) -> dict[str, Any]:
    """The answer to a request: an action chunk for an observation, else a skill result."""
    return _ACTION if "image" in msg else _RESULT


def _ready(endpoint: str) -> None:
    print(f"READY {endpoint}", flush=True)


def _wait_stdin_closed() -> None:
    sys.stdin.read()


def serve_zmq(endpoint: str) -> None:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.bind(endpoint)
    _ready(sock.getsockopt_string(zmq.LAST_ENDPOINT))
    threading.Thread(target=lambda: (_wait_stdin_closed(), ctx.term()), daemon=True).start()
    try:
        while True:
            frames = sock.recv_multipart(copy=False)
            msg = frames_unpack(frames[1:])
            sock.send_multipart([frames[0], *frames_pack(_reply_for(msg))], copy=False)
    except zmq.ContextTerminated:
        pass


def serve_ws(endpoint: str) -> None:
    from websockets.asyncio.server import serve

    host, port = endpoint.rsplit(":", 1)

    async def handler(ws: Any) -> None:
        async for data in ws:
            await ws.send(np_packb(_reply_for(np_unpackb(data))))

    async def main() -> None:
        async with serve(handler, host, int(port), compression=None, max_size=None) as server:
            sock = next(iter(server.sockets))
            _ready(f"ws://{host}:{sock.getsockname()[1]}")
            await asyncio.get_running_loop().run_in_executor(None, _wait_stdin_closed)

    run_loop(main())


def serve_grpc(endpoint: str) -> None:
    from concurrent import futures

    import grpc

    def exchange(request: bytes, context: Any) -> bytes:
        return np_packb(_reply_for(np_unpackb(request)))

    handler = grpc.method_handlers_generic_handler(
        "roboos.bench.Bench", {"Exchange": grpc.unary_unary_rpc_method_handler(exchange)})
    opts = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=opts)
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(endpoint)
    server.start()
    _ready(f"{endpoint.rsplit(':', 1)[0]}:{port}")
    _wait_stdin_closed()
    server.stop(0)


def serve_channel_edge(endpoint: str) -> None:
    """An EdgeChannel connected to the benchmark's CloudChannel, answering every call."""
    from roboos.channel import EdgeChannel
    from roboos.protocol.messages import HelloBody

    async def main() -> None:
        # the benchmark process freezes its loop while blocking baselines run: long liveness limit
        edge = EdgeChannel(endpoint, "bench-edge", HelloBody(robot="bench-edge", embodiment="arm"),
                           cloud_timeout_s=600.0)
        result = control_result()

        async def on_call(env: Any) -> dict[str, Any]:
            return result

        edge.on_call = on_call
        await edge.start(wait_welcome=30.0)
        _ready(endpoint)
        await asyncio.get_running_loop().run_in_executor(None, _wait_stdin_closed)
        await edge.close()

    run_loop(main())


def serve_channel_cloud(endpoint: str) -> None:
    """A CloudChannel answering OBSERVATION requests with action chunks (a policy server's role)."""
    from roboos.channel import CloudChannel

    async def main() -> None:
        cloud = CloudChannel(endpoint, name="bench-cloud", heartbeat_timeout_s=600.0)  # see serve_channel_edge
        chunk = action_chunk()

        async def on_request(env: Any) -> dict[str, Any]:
            return chunk

        cloud.on_request = on_request
        await cloud.start()
        _ready(cloud.endpoint)
        await asyncio.get_running_loop().run_in_executor(None, _wait_stdin_closed)
        await cloud.close()

    run_loop(main())


SERVERS = {"zmq": serve_zmq, "ws": serve_ws, "grpc": serve_grpc, "channel-edge": serve_channel_edge,
           "channel-cloud": serve_channel_cloud}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in SERVERS:
        raise SystemExit(f"usage: python -m roboos.bench.channel_servers {{{','.join(SERVERS)}}} ENDPOINT")
    SERVERS[args[0]](args[1])


if __name__ == "__main__":
    main()
