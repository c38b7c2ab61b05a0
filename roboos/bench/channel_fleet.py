"""Fleet phase of ``roboos bench channel``: many edges at once, each streaming state and taking calls.

The cloud (a :class:`CloudChannel` in this process) calls every robot at ``call_hz`` and counts STATE
messages; worker processes each host a share of the edges, streaming state at ``state_hz`` with
sequence numbers. Lost messages = states the edges tried to send minus states the cloud received,
plus calls that got no result.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from roboos.bench import latency_summary
from roboos.bench.channel_payloads import control_call, control_result
from roboos.bench.channel_procs import ServerProcess
from roboos.channel.loop import run as run_loop

FLEET_MODULE = "roboos.bench.channel_fleet"


def robot_ids(start: int, count: int) -> list[str]:
    return [f"fleet-{i:03d}" for i in range(start, start + count)]


# ------------------------------------------------------------------------------------ edge worker
async def _edge_worker(endpoint: str, start: int, count: int, state_hz: float, seconds: float) -> None:
    from roboos.channel import EdgeChannel
    from roboos.protocol import MsgType
    from roboos.protocol.messages import HelloBody

    result = control_result()
    edges = [EdgeChannel(endpoint, rid, HelloBody(robot=rid, embodiment="arm")) for rid in robot_ids(start, count)]
    for edge in edges:
        async def on_call(env: Any) -> dict[str, Any]:
            return result

        edge.on_call = on_call
    await asyncio.gather(*(e.start(wait_welcome=60.0) for e in edges))
    print("READY " + endpoint, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "GO"
    attempted = {e.robot_id: 0 for e in edges}
    # each edge's first HELLO fails (sent before its connection is up; the ticker re-sends it): not a state
    failed_before = {e.robot_id: e.stats.send_failed for e in edges}

    async def stream() -> None:
        """One ticker for all edges of this process (less harness overhead than a task per edge)."""
        period = 1.0 / state_hz
        t_end = time.monotonic() + seconds
        next_t = time.monotonic()
        seq = 0
        while next_t < t_end:
            seq += 1
            for edge in edges:
                attempted[edge.robot_id] += 1
                await edge.send(MsgType.STATE, {"seq": seq, "state": {"robot": edge.robot_id, "status": "busy",
                                                                       "joints": [0.1] * 7}})
            next_t += period
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))

    await stream()
    failed = {e.robot_id: e.stats.send_failed - failed_before[e.robot_id] for e in edges}
    print("DONE " + json.dumps({"attempted": attempted, "send_failed": failed}), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(e.close() for e in edges))


# ----------------------------------------------------------------------------------------- cloud
def run_fleet(robots: int, seconds: float, state_hz: float, call_hz: float, workers: int,
              progress: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Run the fleet phase and return its figures (p99 of calls and state delivery, lost messages)."""
    return run_loop(_run_fleet(robots, seconds, state_hz, call_hz, max(1, workers), progress))


async def _run_fleet(robots: int, seconds: float, state_hz: float, call_hz: float, workers: int,
                     progress: Callable[[str, int], None] | None) -> dict[str, Any]:
    from roboos.channel import CloudChannel, RemoteError
    from roboos.protocol import MsgType

    cloud = CloudChannel("tcp://127.0.0.1:0", name="fleet-cloud", heartbeat_timeout_s=5.0)
    received: dict[str, int] = {}
    state_lat: list[float] = []

    async def on_message(env: Any) -> None:
        if env.type is MsgType.STATE:
            received[env.src] = received.get(env.src, 0) + 1
            state_lat.append((time.time_ns() - env.ts_ns) / 1e9)

    cloud.on_message = on_message
    await cloud.start()
    procs: list[ServerProcess] = []
    loop = asyncio.get_running_loop()
    try:
        share = [robots // workers + (1 if i < robots % workers else 0) for i in range(workers)]
        start = 0
        for n in share:
            procs.append(await loop.run_in_executor(None, lambda s=start, n=n: ServerProcess(
                FLEET_MODULE, cloud.endpoint, str(s), str(n), str(state_hz), str(seconds), ready_timeout=120)))
            start += n
        ids = robot_ids(0, robots)
        call_lat: list[float] = []
        calls = {"sent": 0, "ok": 0, "failed": 0}

        async def caller(rid: str) -> None:
            period = 1.0 / call_hz
            t_end = time.monotonic() + seconds
            body = control_call()
            while time.monotonic() < t_end:
                t0 = time.perf_counter()
                calls["sent"] += 1
                try:
                    await cloud.call(rid, body, timeout=5.0)
                    calls["ok"] += 1
                    call_lat.append(time.perf_counter() - t0)
                except (RemoteError, TimeoutError, RuntimeError):
                    calls["failed"] += 1
                if progress:
                    progress("fleet", 1)
                await asyncio.sleep(max(0.0, period - (time.perf_counter() - t0)))

        for p in procs:
            assert p.proc.stdin is not None
            p.proc.stdin.write("GO\n")
            p.proc.stdin.flush()
        t0 = time.monotonic()
        await asyncio.gather(*(caller(rid) for rid in ids)) if call_hz > 0 else await asyncio.sleep(seconds)
        elapsed = time.monotonic() - t0
        reports = [await loop.run_in_executor(None, _read_done, p) for p in procs]
        await asyncio.sleep(0.5)  # let in-flight states land
        attempted = sum(sum(r["attempted"].values()) for r in reports)
        send_failed = sum(sum(r["send_failed"].values()) for r in reports)
        got = sum(received.values())
        return {
            "robots": robots, "seconds": seconds, "state_hz": state_hz, "call_hz": call_hz,
            "edge_processes": workers, "wall_s": elapsed,
            "state": {"attempted": attempted, "received": got, "lost": attempted - got,
                      "send_failed_at_edge": send_failed, "rate_per_s": got / max(elapsed, 1e-9),
                      "latency": latency_summary(state_lat)},
            "calls": {**calls, "lost": calls["sent"] - calls["ok"], "latency": latency_summary(call_lat)},
            "lost_messages": (attempted - got) + (calls["sent"] - calls["ok"]),
            "cloud_stats": cloud.stats.as_dict(),
        }
    finally:
        for p in procs:
            await loop.run_in_executor(None, p.close)
        await cloud.close()


def _read_done(proc: ServerProcess) -> dict[str, Any]:
    assert proc.proc.stdout is not None
    for line in proc.proc.stdout:
        if line.startswith("DONE "):
            return json.loads(line[5:])
    raise RuntimeError("a fleet worker exited without its report")


if __name__ == "__main__":
    ep, first, count, hz, secs = sys.argv[1:6]
    run_loop(_edge_worker(ep, int(first), int(count), float(hz), float(secs)))
