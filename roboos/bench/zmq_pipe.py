"""How a ZeroMQ ROUTER's memory fills as it sends: ``python -m roboos.bench.zmq_pipe --out FILE``.

One ROUTER (this process) sends small messages round-robin to ``--peers`` DEALERs (a child process) at
``--rate`` messages per second per peer; every 32 messages per peer it samples its own RSS and glibc's
``mallinfo2()`` (bytes in use, heap size). libzmq queues a pipe's messages in blocks of 256 message slots
(16 KB): the second block is *allocated* once a peer has been sent 256 messages, but its pages become
*resident* only as messages are written into them, so the RSS keeps climbing until each peer has been sent
about 450 messages and is flat after that. ``roboos bench load`` starts its RSS baseline from this
(:func:`roboos.bench.load.default_warmup_s`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import zmq

from roboos.bench import machine_info, utc_now, write_result
from roboos.bench.heap import glibc_heap


def _peers(endpoint: str, peers: int) -> None:
    """Child process: ``peers`` DEALERs that say hello and then read everything they are sent."""
    ctx = zmq.Context()
    poller = zmq.Poller()
    for i in range(peers):
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, f"peer{i}".encode())
        sock.connect(endpoint)
        sock.send(b"hello")
        poller.register(sock, zmq.POLLIN)
    while True:
        for sock, _ in poller.poll(1000):
            while True:
                try:
                    sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break


def measure(peers: int = 500, rate_hz: float = 20.0, messages: int = 640, size: int = 120) -> dict[str, Any]:
    """Send ``messages`` per peer; returns the samples (messages per peer, RSS, heap in use, heap size)."""
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    child = subprocess.Popen([sys.executable, "-m", "roboos.bench.zmq_pipe", "--serve-peers", str(peers),
                              "--endpoint", f"tcp://127.0.0.1:{port}"])
    samples: list[dict[str, float]] = []
    try:
        idents: set[bytes] = set()
        while len(idents) < peers:
            idents.add(router.recv_multipart()[0])
        me, payload, due = psutil.Process(), b"x" * size, time.monotonic()
        for k in range(messages + 1):
            if k % 32 == 0:
                heap = glibc_heap()
                samples.append({"messages_per_peer": k, "rss_mb": round(me.memory_info().rss / 2**20, 2),
                                "heap_in_use_mb": round(heap.in_use_mb, 2) if heap else None,
                                "heap_mb": round(heap.heap_mb, 2) if heap else None})
            for ident in sorted(idents):
                router.send_multipart([ident, payload])
            due += 1.0 / rate_hz
            time.sleep(max(0.0, due - time.monotonic()))
    finally:
        child.kill()
        child.wait()
        router.close(0)
        ctx.term()
    return {"bench": "zmq-pipe-residency", "date": utc_now(), "machine": machine_info(["pyzmq"]),
            "libzmq": zmq.zmq_version(), "peers": peers, "rate_hz": rate_hz, "message_bytes": size,
            "samples": samples}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--peers", type=int, default=500)
    ap.add_argument("--rate", type=float, default=20.0, help="messages per second per peer")
    ap.add_argument("--messages", type=int, default=640, help="messages per peer")
    ap.add_argument("--serve-peers", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_peers:
        _peers(args.endpoint, args.serve_peers)
        return
    result = measure(args.peers, args.rate, args.messages)
    result["command"] = "python -m roboos.bench.zmq_pipe " + " ".join(argv if argv is not None else sys.argv[1:])
    for s in result["samples"]:
        print(f"{s['messages_per_peer']:5d} messages/peer  RSS {s['rss_mb']:7.2f} MB  heap in use "
              f"{s['heap_in_use_mb']} MB")
    if args.out:
        write_result(args.out, result)


if __name__ == "__main__":
    main()
