"""The asyncio floor of a ZeroMQ round trip: what an event loop on either side costs before any RoboOS code.

Runs the control exchange of ``roboos bench channel`` (one ~0.9 KB msgpack message answered by an echo) with
bare pyzmq in two processes over loopback TCP, for the four combinations of a blocking or an asyncio (uvloop,
``add_reader`` on the ZeroMQ FD, drained until ``Again``) caller and echo, in rotating rounds. It tells how much
of the channel's gap to bare pyzmq comes from running on an event loop at all::

    python -m roboos.bench.channel_floor --samples 3000 --rounds 10 --out floor.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import zmq

from roboos.bench import cpu_model
from roboos.bench.fuzz_live import free_port

WARMUP = 200
QUIT = b"quit"
MESSAGE = msgpack.packb({"type": "call", "id": "x" * 16,
                         "body": {"skill": "move", "args": {"x": 1.0}, "pad": "p" * 800}})


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # uvloop is optional at run time, as in the channel
        return asyncio.new_event_loop()


def _router(port: int) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.bind(f"tcp://127.0.0.1:{port}")
    return sock


def echo_blocking(port: int) -> None:
    """Answer every message with itself (blocking ``recv``) until told to quit."""
    sock = _router(port)
    while (frames := sock.recv_multipart())[1] != QUIT:
        sock.send_multipart(frames)


def echo_asyncio(port: int) -> None:
    """The same echo on an event loop: a reader callback on the ZeroMQ FD that drains until ``Again``."""
    sock, loop = _router(port), _new_loop()
    done = loop.create_future()

    def on_readable() -> None:
        while not done.done():
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if frames[1] == QUIT:
                done.set_result(None)
            else:
                sock.send_multipart(frames)

    loop.add_reader(sock.getsockopt(zmq.FD), on_readable)
    on_readable()
    loop.run_until_complete(done)


def _dealer(port: int) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(f"tcp://127.0.0.1:{port}")
    return sock


def call_blocking(port: int, samples: int) -> list[int]:
    """Round-trip times (ns) of ``samples`` blocking send/recv pairs, after a warm-up."""
    sock, out = _dealer(port), []
    for _ in range(samples + WARMUP):
        start = time.perf_counter_ns()
        sock.send(MESSAGE)
        sock.recv()
        out.append(time.perf_counter_ns() - start)
    sock.send(QUIT)
    return out[WARMUP:]


def call_asyncio(port: int, samples: int) -> list[int]:
    """Round-trip times (ns) of an asyncio caller: one future per request, resolved by the reader callback."""
    sock, loop = _dealer(port), _new_loop()
    waiting: list[asyncio.Future[bytes]] = []

    def on_readable() -> None:
        while True:
            try:
                reply = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if waiting and not waiting[0].done():
                waiting.pop(0).set_result(reply)

    loop.add_reader(sock.getsockopt(zmq.FD), on_readable)

    async def run() -> list[int]:
        out = []
        for _ in range(samples + WARMUP):
            start = time.perf_counter_ns()
            future = loop.create_future()
            waiting.append(future)
            sock.send(MESSAGE)
            if sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:  # edge-triggered FD: read what already arrived
                on_readable()
            await future
            out.append(time.perf_counter_ns() - start)
        sock.send(QUIT)
        return out[WARMUP:]

    return loop.run_until_complete(run())


CALLERS: dict[str, Callable[[int, int], list[int]]] = {"blocking": call_blocking, "asyncio": call_asyncio}
ECHOES: dict[str, Callable[[int], None]] = {"blocking": echo_blocking, "asyncio": echo_asyncio}


def _percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * q))] / 1e3


def run_floor(samples: int = 3000, rounds: int = 10) -> dict[str, Any]:
    """Every caller/echo pair once per round; per pair the median over rounds of p50 and p99 (µs)."""
    if samples <= 0 or rounds <= 0:
        raise ValueError("samples and rounds must be positive")
    per_round: dict[str, list[tuple[float, float]]] = {}
    ctx = mp.get_context("spawn")
    for _ in range(rounds):
        for caller_name, caller in CALLERS.items():
            for echo_name, echo in ECHOES.items():
                port = free_port()
                proc = ctx.Process(target=echo, args=(port,), daemon=True)
                proc.start()
                try:
                    lat = sorted(caller(port, samples))
                finally:
                    proc.join(5)
                    if proc.is_alive():
                        proc.kill()
                per_round.setdefault(f"{caller_name}/{echo_name}", []).append(
                    (_percentile(lat, 0.5), _percentile(lat, 0.99)))
    pairs = {name: {"p50_us": round(statistics.median(p for p, _ in rows), 1),
                    "p99_us": round(statistics.median(q for _, q in rows), 1),
                    "p50_range_us": [round(min(p for p, _ in rows), 1), round(max(p for p, _ in rows), 1)]}
             for name, rows in per_round.items()}
    floor = pairs["blocking/blocking"]["p50_us"]
    for row in pairs.values():
        row["vs_blocking_pct"] = round(100 * (row["p50_us"] / floor - 1), 1)
    return {"bench": "channel-floor", "samples": samples, "rounds": rounds, "message_bytes": len(MESSAGE),
            "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "pyzmq": zmq.__version__}, "pairs": pairs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3000, help="round trips per pair and round")
    parser.add_argument("--rounds", type=int, default=10, help="rounds over the four caller/echo pairs")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    args = parser.parse_args(argv)
    load0 = list(os.getloadavg())
    result = run_floor(args.samples, args.rounds)
    result.update(load_avg_at_start=load0, load_avg_at_end=list(os.getloadavg()),
                  command=f"python -m roboos.bench.channel_floor --samples {args.samples} --rounds {args.rounds}")
    for name, row in result["pairs"].items():
        print(f"caller/echo {name:18} p50 {row['p50_us']:7.1f} µs  p99 {row['p99_us']:7.1f} µs  "
              f"({row['vs_blocking_pct']:+.1f}% vs blocking/blocking)")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
