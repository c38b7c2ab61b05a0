"""``roboos bench load``: one cloud Master against hundreds of simulated edge agents.

The Master (real registry, world model and memory bookkeeping of every STATE) runs in this process;
``processes`` child processes each host ``agents / processes`` lightweight agents (``load_edges``).
Skill calls are dispatched continuously through the master's channel to random robots. Measured:
dispatch latency (cloud send -> edge handler, one host clock), call round trip, late/missed heartbeats,
lost states and calls, double executions, cloud CPU and RSS sampled every second.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from roboos.bench import latency_summary
from roboos.bench.load_edges import robot_name

LATE_FACTOR = 3.0  # a robot silent for 3 heartbeat periods counts one late heartbeat


class _Counting:
    """Wraps the master's channel ``on_message``: per-robot STATE counts and heartbeat-gap accounting."""

    def __init__(self, master: Any, period_s: float) -> None:
        self.inner = master.channel.on_message
        self.states: Counter[str] = Counter()
        self.last: dict[str, float] = {}
        self.late = 0
        self.period = period_s
        self.measuring = False
        master.channel.on_message = self

    def __call__(self, env: Any) -> Any:
        if env.type.value == "state":
            self.states[env.src] += 1
            now = time.monotonic()
            prev = self.last.get(env.src)
            if self.measuring and prev is not None and now - prev > LATE_FACTOR * self.period:
                self.late += 1
            self.last[env.src] = now
        return self.inner(env)


def _start_edges(endpoint: str, agents: int, processes: int, rate_hz: float, tmp: Path) -> list[tuple[Any, Path]]:
    procs = []
    per = -(-agents // processes)
    for p in range(processes):
        first, count = p * per, min(per, agents - p * per)
        if count <= 0:
            break
        stats = tmp / f"edges{p}.json"
        with open(tmp / f"edges{p}.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "roboos.bench.load_edges", "--connect", endpoint, "--first",
                                     str(first), "--count", str(count), "--rate-hz", str(rate_hz), "--stats",
                                     str(stats)],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        procs.append((proc, stats))
    return procs


def _stop_edges(procs: list[tuple[Any, Path]], timeout: float = 30.0) -> list[dict[str, Any]]:
    for proc, _ in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    out = []
    for proc, stats in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        out.append(json.loads(stats.read_text()) if stats.exists() else {"error": f"exit {proc.returncode}"})
    return out


async def run_load(agents: int = 500, processes: int = 5, seconds: float = 600.0, rate_hz: float = 10.0,
                   calls_per_s: float = 100.0, warmup_s: float | None = None,
                   progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Run the load test; returns the result dictionary (see module docstring)."""
    from roboos.master.config import load_cloud_config
    from roboos.master.master import Master

    period = 1.0 / rate_hz
    # edges beat (and stream state) at ``rate_hz``; the cloud's own beat to each edge stays at its 0.5 s default
    config = load_cloud_config(overrides=["bind=tcp://127.0.0.1:0", "control_plane.enabled=false",
                                          "heartbeat.interval_s=0.5", "heartbeat.timeout_s=2.0",
                                          "memory.backend=local", "dashboard.enabled=false"])
    master = Master(config)
    await master.start()
    counting = _Counting(master, period)
    tmp = Path(tempfile.mkdtemp(prefix="roboos-load-"))
    names = [robot_name(i) for i in range(agents)]
    procs = _start_edges(master.channel.endpoint, agents, processes, rate_hz, tmp)
    me = psutil.Process()
    result: dict[str, Any] = {"load_avg_at_start": list(os.getloadavg()), "agents": agents, "processes": processes, "seconds": seconds, "rate_hz": rate_hz,
                              "calls_per_s_target": calls_per_s}
    try:
        t_reg = time.monotonic()
        missing = await master.registry.wait_for(names, timeout=max(60.0, agents * 0.2))
        result["registration_s"] = round(time.monotonic() - t_reg, 2)
        result["unregistered"] = len(missing)
        disconnects0 = master.channel.stats.disconnects
        counting.measuring = True
        warmup = warmup_s if warmup_s is not None else min(60.0, seconds * 0.2)
        dispatch, rtt, lost_calls, sent_calls = [], [], 0, 0
        samples: list[dict[str, float]] = []
        me.cpu_percent(None)
        rng = random.Random(0)
        start = time.monotonic()
        next_call = start
        next_sample = start + 1.0
        pending: set[asyncio.Task[Any]] = set()

        async def one_call(robot: str) -> None:
            nonlocal lost_calls
            t0 = time.time_ns()
            try:
                env = await master.channel.call(robot, {"skill": "noop", "args": {}}, timeout=10.0)
            except Exception:  # noqa: BLE001 - counted as a lost call (timeout, offline)
                lost_calls += 1
                return
            t1 = time.time_ns()
            recv = (env.body.get("value") or {}).get("recv_ns")
            if isinstance(recv, int):
                dispatch.append((recv - t0) / 1e9)
            rtt.append((t1 - t0) / 1e9)

        while (now := time.monotonic()) - start < seconds:
            while next_call <= now:
                task = asyncio.create_task(one_call(rng.choice(names)))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent_calls += 1
                next_call += 1.0 / calls_per_s
            if now >= next_sample:
                samples.append({"t": round(now - start, 1), "cpu_pct": me.cpu_percent(None),
                                "rss_mb": me.memory_info().rss / 2**20})
                next_sample += 1.0
                if progress is not None:
                    progress("soak", now - start)
            await asyncio.sleep(min(next_call, next_sample) - time.monotonic())
        if pending:
            await asyncio.wait(pending, timeout=15)
        counting.measuring = False
        result["missed_heartbeat_timeouts"] = master.channel.stats.disconnects - disconnects0
    finally:
        edge_stats = _stop_edges(procs)
        await asyncio.sleep(0.5)
        channel_stats = master.channel.stats.as_dict()
        await master.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    sent_states = Counter()
    for s in edge_stats:
        sent_states.update(s.get("states_sent", {}))
    lost_states = sum(max(0, n - counting.states[r]) for r, n in sent_states.items())
    after = [s for s in samples if s["t"] >= warmup]
    # medians of the first and the last 30 s after warm-up: RSS breathes with ZeroMQ queues during stalls
    first = [s["rss_mb"] for s in after if s["t"] < warmup + 30]
    last = [s["rss_mb"] for s in after if s["t"] >= samples[-1]["t"] - 30]
    rss_warm = statistics.median(first) if first else None
    rss_end = statistics.median(last) if last else None
    result.update({
        "calls_sent": sent_calls, "calls_answered": len(rtt), "calls_lost": lost_calls,
        "calls_executed_at_edges": sum(s.get("calls_executed", 0) for s in edge_stats),
        "double_executions": sum(s.get("double_executions", 0) for s in edge_stats),
        "dispatch_latency_s": latency_summary(dispatch), "call_rtt_s": latency_summary(rtt),
        "states_sent": sum(sent_states.values()), "states_received": sum(counting.states.values()),
        "states_lost": lost_states, "late_heartbeats": counting.late,
        "edge_link_downs": sum(s.get("link_downs", 0) for s in edge_stats),
        "edge_sends_refused": sum(s.get("send_failed", 0) for s in edge_stats),
        "load_avg_at_end": list(os.getloadavg()),
        "cloud_cpu_pct_mean": round(sum(s["cpu_pct"] for s in after) / len(after), 1) if after else None,
        "cloud_rss_mb": {"after_warmup": rss_warm, "end": rss_end,
                         "min_after_warmup": min((s["rss_mb"] for s in after), default=None),
                         "max": max((s["rss_mb"] for s in samples), default=None)},
        "rss_growth_after_warmup_pct": round(100 * (rss_end - rss_warm) / rss_warm, 2) if rss_warm else None,
        "warmup_s": warmup, "samples": samples, "channel_stats": channel_stats, "edge_processes": [
            {k: v for k, v in s.items() if k != "states_sent"} for s in edge_stats],
    })
    return result
