"""``roboos bench load``: one cloud Master against hundreds of simulated edge agents.

The Master runs in this process as ``roboos cloud`` runs it (SQLite memory and history in a temporary
folder, the default of ``configs/cloud.yaml``); ``processes`` child processes each host
``agents / processes`` protocol-level agents (:mod:`roboos.bench.load_edges`), each with its own DEALER
socket, 10 Hz heartbeats and STATE. Tasks are dispatched continuously: every dispatch is a one-step
plan submitted with :meth:`Master.submit_plan` to a random robot, so it takes the cloud's whole dispatch
path (task record and events persisted, executor, world model, CALL on the channel).

Measured, all in one clock domain: **dispatch latency** = ``time.monotonic_ns()`` in the cloud just
before ``submit_plan`` -> ``time.monotonic_ns()`` in the edge process when its CALL handler runs
(CLOCK_MONOTONIC is one clock for every process of a Linux host). It is split, with the wall clock
(CLOCK_REALTIME, also one per host), into the cloud part (submit -> CALL envelope built) and the
transport part (envelope built -> edge handler). Also: task round trip (submit -> task succeeded),
how late the dispatcher ran against its schedule, the cloud event loop's lag, GC pauses, late STATEs,
lost STATEs and tasks, double executions, cloud CPU and RSS every second, load generator CPU, and how
long the cloud's event-loop thread waited for a CPU (Linux schedstat: the machine's contention).
"""

from __future__ import annotations

import asyncio
import gc
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
from array import array
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from roboos.bench import latency_summary
from roboos.bench.load_edges import SKILL, robot_name, run_queue_wait_s

LATE_FACTOR = 3.0  # a robot silent for 3 STATE periods counts one late heartbeat
LAG_PERIOD_S = 0.01  # the loop-lag probe's sleep
_HEARTBEAT_S = 0.5  # the cloud's heartbeat interval in the benchmark (as configs/cloud.yaml)
ZMQ_PIPE_CHUNK = 256  # messages per block of a ZeroMQ pipe's queue (libzmq message_pipe_granularity)
DISPATCH_DEFINITION = ("cloud time.monotonic_ns() just before Master.submit_plan (one-step plan: task record "
                       "and events persisted, executor, world model, CALL on the channel) -> edge process "
                       "time.monotonic_ns() when its CALL handler runs; CLOCK_MONOTONIC is shared by all "
                       "processes of one Linux host")


def _array_bytes(*arrays: array) -> int:
    """Bytes held by sample arrays."""
    return sum(a.buffer_info()[1] * a.itemsize for a in arrays)


class _Counting:
    """Wraps the master's channel ``on_message``: per-robot STATE counts and STATE-gap accounting."""

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


class _Probes:
    """Event-loop lag (a 10 ms sleeper's lateness) and garbage-collector pauses of the cloud process."""

    def __init__(self) -> None:
        self.lag = array("d")
        self.gc_count: Counter[int] = Counter()
        self.gc_max_s: dict[int, float] = {}
        self.gc_total_s = 0.0
        self._gc_t0 = 0.0
        self.measuring = False

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_t0 = time.perf_counter()
            return
        if self.measuring:
            d, gen = time.perf_counter() - self._gc_t0, info["generation"]
            self.gc_count[gen] += 1
            self.gc_total_s += d
            self.gc_max_s[gen] = max(d, self.gc_max_s.get(gen, 0.0))

    def nbytes(self) -> int:
        return _array_bytes(self.lag)

    async def lag_probe(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(LAG_PERIOD_S)
            if self.measuring:
                self.lag.append(time.perf_counter() - t - LAG_PERIOD_S)

    def __enter__(self) -> _Probes:
        gc.callbacks.append(self._gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._gc)

    def summary(self) -> dict[str, Any]:
        return {"loop_lag_s": latency_summary(self.lag),
                "gc_pauses": {f"gen{g}": {"n": self.gc_count[g], "max_ms": round(self.gc_max_s[g] * 1e3, 2)}
                              for g in sorted(self.gc_count)},
                "gc_total_s": round(self.gc_total_s, 3)}


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


class _Dispatcher:
    """Submits one-step tasks on a fixed schedule and records where each one's time went."""

    def __init__(self, master: Any, names: list[str], calls_per_s: float) -> None:
        from roboos.master.models import Plan, Step

        self.master, self.names, self.interval = master, names, 1.0 / calls_per_s
        self._plan = lambda robot: Plan(steps=[Step(id="s1", robot=robot, skill=SKILL.name)], planner="load")
        self.rng = random.Random(0)
        self.dispatch, self.cloud_part, self.transport, self.rtt, self.late = (array("d") for _ in range(5))
        self.sent = self.lost = self.retried = self.skipped = 0
        self.max_in_flight = max(100, int(10 * calls_per_s))  # 10 s of work: beyond, the cloud is not keeping up
        self.errors: Counter[str] = Counter()
        self.pending: set[asyncio.Task[Any]] = set()

    def nbytes(self) -> int:
        """Bytes held by the sample arrays (excluded from the cloud's RSS growth)."""
        return _array_bytes(self.dispatch, self.cloud_part, self.transport, self.rtt, self.late)

    def fire(self, due: float) -> None:
        if len(self.pending) >= self.max_in_flight:  # back-pressure, counted: never a silent drop
            self.skipped += 1
            return
        self.sent += 1
        task = asyncio.get_running_loop().create_task(self._one(self.rng.choice(self.names), due))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _one(self, robot: str, due: float) -> None:
        self.late.append(max(0.0, time.monotonic() - due))
        t0, w0 = time.monotonic_ns(), time.time_ns()
        try:
            task_id = await self.master.submit_plan(self._plan(robot), instruction=f"load call to {robot}")
            record = await self.master.wait(task_id, timeout=30.0)
        except Exception as exc:  # noqa: BLE001 - counted (and named) as a lost task
            self.lost += 1
            self.errors[type(exc).__name__] += 1
            return
        t1 = time.monotonic_ns()
        step = record.plan.steps[0] if record.plan and record.plan.steps else None
        if record.status.value != "succeeded" or step is None or not isinstance(step.result, dict):
            self.lost += 1
            self.errors[record.reason[:60] or record.status.value] += 1
            return
        self.retried += step.attempts > 1
        value = step.result
        if isinstance(value.get("recv_mono_ns"), int):
            self.dispatch.append((value["recv_mono_ns"] - t0) / 1e9)
        if isinstance(value.get("call_ts_ns"), int) and isinstance(value.get("recv_wall_ns"), int):
            self.cloud_part.append((value["call_ts_ns"] - w0) / 1e9)
            self.transport.append((value["recv_wall_ns"] - value["call_ts_ns"]) / 1e9)
        self.rtt.append((t1 - t0) / 1e9)


def _cloud_config(tmp: Path, memory_backend: str) -> Any:
    from roboos.master.config import load_cloud_config

    # edges beat (and stream state) at ``rate_hz``; the cloud's own beat to each edge stays at its 0.5 s default
    return load_cloud_config(overrides=[
        "bind=tcp://127.0.0.1:0", "control_plane.enabled=false", "dashboard.enabled=false",
        f"heartbeat.interval_s={_HEARTBEAT_S}", "heartbeat.timeout_s=2.0", f"memory.backend={memory_backend}",
        f"memory.path={tmp / 'cloud.db'}", "memory.reset_world=true"])


async def run_load(agents: int = 500, processes: int = 2, seconds: float = 600.0, rate_hz: float = 10.0,
                   calls_per_s: float = 100.0, warmup_s: float | None = None, memory_backend: str = "sqlite",
                   progress: Callable[[str, float], None] | None = None, freeze_gc: bool = True) -> dict[str, Any]:
    """Run the load test; returns the result dictionary (see the module docstring). ``freeze_gc``: freeze the
    startup objects out of the cyclic GC as ``roboos cloud`` does (off for in-process test runs)."""
    from roboos.gc_freeze import freeze_startup_objects
    from roboos.master.master import Master

    if agents <= 0 or processes <= 0 or seconds <= 0 or rate_hz <= 0 or calls_per_s <= 0:
        raise ValueError("agents, processes, seconds, rate_hz and calls_per_s must be positive")
    tmp = Path(tempfile.mkdtemp(prefix="roboos-load-"))
    master = Master(_cloud_config(tmp, memory_backend))
    await master.start()
    result_gc_frozen = freeze_startup_objects() if freeze_gc else 0  # as start_cloud does for ``roboos cloud``
    counting = _Counting(master, 1.0 / rate_hz)
    names = [robot_name(i) for i in range(agents)]
    procs = _start_edges(master.channel.endpoint, agents, processes, rate_hz, tmp)
    me = psutil.Process()
    result: dict[str, Any] = {"load_avg_at_start": list(os.getloadavg()), "agents": agents, "processes": processes,
                              "seconds": seconds, "rate_hz": rate_hz, "calls_per_s_target": calls_per_s,
                              "memory_backend": memory_backend, "gc_frozen_startup_objects": result_gc_frozen,
                              "dispatch_latency_definition": DISPATCH_DEFINITION}
    warmup = (default_warmup_s(seconds, agents, calls_per_s, _HEARTBEAT_S) if warmup_s is None
              else warmup_s)
    samples: list[dict[str, float]] = []
    disp = _Dispatcher(master, names, calls_per_s)
    with _Probes() as probes:
        lag_task = asyncio.get_running_loop().create_task(probes.lag_probe())
        try:
            t_reg = time.monotonic()
            missing = await master.registry.wait_for(names, timeout=max(60.0, agents * 0.2))
            result["registration_s"] = round(time.monotonic() - t_reg, 2)
            result["unregistered"] = len(missing)
            disconnects0 = master.channel.stats.disconnects
            counting.measuring = probes.measuring = True
            me.cpu_percent(None)
            wait0 = run_queue_wait_s()
            start = time.monotonic()
            next_call, next_sample = start, start + 1.0
            while (now := time.monotonic()) - start < seconds:
                while next_call <= now:
                    disp.fire(next_call)
                    next_call += disp.interval
                if now >= next_sample:
                    samples.append({"t": round(now - start, 1), "cpu_pct": me.cpu_percent(None),
                                    "rss_mb": round(me.memory_info().rss / 2**20, 2),
                                    "bench_arrays_mb": round((disp.nbytes() + probes.nbytes()) / 2**20, 3)})
                    next_sample += 1.0
                    if progress is not None:
                        progress("soak", now - start)
                await asyncio.sleep(max(0.0, min(next_call, next_sample) - time.monotonic()))
            if disp.pending:
                await asyncio.wait(disp.pending, timeout=35)
            counting.measuring = probes.measuring = False
            result["missed_heartbeat_timeouts"] = master.channel.stats.disconnects - disconnects0
            wait1, wall = run_queue_wait_s(), time.monotonic() - start
            if wait0 is not None and wait1 is not None:  # the event loop runnable but not running
                result["cloud_run_queue_wait_s"] = round(wait1 - wait0, 2)
                result["cloud_run_queue_wait_pct_of_wall"] = round(100 * (wait1 - wait0) / wall, 2)
        finally:
            lag_task.cancel()
            edge_stats = _stop_edges(procs)
            await asyncio.sleep(0.5)
            channel_stats = master.channel.stats.as_dict()
            await master.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    sent_states: Counter[str] = Counter()
    for s in edge_stats:
        sent_states.update(s.get("states_sent", {}))
    lost_states = sum(max(0, n - counting.states[r]) for r, n in sent_states.items())
    edge_cpu_s = sum(s.get("cpu_s", 0.0) for s in edge_stats)
    result.update({
        "calls_sent": disp.sent, "calls_answered": len(disp.rtt), "calls_lost": disp.lost,
        "lost_reasons": dict(disp.errors), "calls_retried": disp.retried,
        "calls_not_sent_in_flight_limit": disp.skipped, "in_flight_limit": disp.max_in_flight,
        "calls_executed_at_edges": sum(s.get("calls_executed", 0) for s in edge_stats),
        "double_executions": sum(s.get("double_executions", 0) for s in edge_stats),
        "dispatch_latency_s": latency_summary(disp.dispatch),
        "dispatch_cloud_part_s": latency_summary(disp.cloud_part),
        "dispatch_transport_part_s": latency_summary(disp.transport),
        "dispatcher_lateness_s": latency_summary(disp.late), "task_rtt_s": latency_summary(disp.rtt),
        "states_sent": sum(sent_states.values()), "states_received": sum(counting.states.values()),
        "states_lost": lost_states, "late_heartbeats": counting.late,
        "edge_link_downs": sum(s.get("link_downs", 0) for s in edge_stats),
        "edge_sends_refused": sum(s.get("send_failed", 0) for s in edge_stats),
        "load_avg_at_end": list(os.getloadavg()),
        "load_generator_cpu_pct_mean": round(100 * edge_cpu_s / (seconds + result.get("registration_s", 0)), 1),
        **probes.summary(), **_cpu_rss(samples, warmup),
        "samples": samples, "channel_stats": channel_stats,
        "edge_processes": [{k: v for k, v in s.items() if k != "states_sent"} for s in edge_stats],
    })
    return result


def default_warmup_s(seconds: float, agents: int, calls_per_s: float, heartbeat_s: float) -> float:
    """Warm-up before the RSS baseline: until every robot's outbound ZeroMQ pipe has carried two queue
    blocks of :data:`ZMQ_PIPE_CHUNK` messages (cloud heartbeats + its share of the calls).

    libzmq allocates a pipe's second block after 256 messages and then reuses its two blocks, but a block's
    pages become resident only as messages are written into them: the cloud's RSS climbs by ~15 KB per
    robot until each robot has been sent ~450 messages, then stays flat (``python -m
    roboos.bench.zmq_pipe``). At 500 robots (2.2 messages/s each) that is 233 s, when the heartbeats alone
    have passed 450. At least 60 s, at most 40 % of the soak."""
    per_robot_hz = 1.0 / heartbeat_s + calls_per_s / max(agents, 1)
    return min(max(60.0, 2 * ZMQ_PIPE_CHUNK / per_robot_hz), 0.4 * seconds)


def _cloud_rss(sample: dict[str, float]) -> float:
    """The cloud's RSS in a sample: the process's minus the benchmark's own sample arrays, which share it."""
    return sample["rss_mb"] - sample.get("bench_arrays_mb", 0.0)


def _cpu_rss(samples: list[dict[str, float]], warmup: float) -> dict[str, Any]:
    """Cloud CPU mean and RSS growth: medians of the cloud's RSS over the first 30 s after warm-up and
    over the last 30 s."""
    after = [s for s in samples if s["t"] >= warmup]

    def median_rss(lo: float, hi: float) -> float | None:
        window = [_cloud_rss(s) for s in samples if lo <= s["t"] < hi]
        return statistics.median(window) if window else None

    def growth(first: float | None) -> float | None:
        return round(100 * (rss_end - first) / first, 2) if first and rss_end is not None else None

    rss_end = median_rss(samples[-1]["t"] - 30, float("inf")) if samples else None
    rss_warm = median_rss(warmup, warmup + 30)
    return {"cloud_cpu_pct_mean": round(sum(s["cpu_pct"] for s in after) / len(after), 1) if after else None,
            "cloud_rss_mb": {"after_warmup": _round(rss_warm), "end": _round(rss_end),
                             "min_after_warmup": min((_cloud_rss(s) for s in after), default=None),
                             "max": max((_cloud_rss(s) for s in samples), default=None),
                             "bench_arrays_at_end": samples[-1].get("bench_arrays_mb") if samples else None},
            "rss_growth_after_warmup_pct": growth(rss_warm),
            "rss_growth_after_60s_pct": growth(median_rss(60.0, 90.0)) if warmup != 60.0 else None,
            "rss_slope_second_half_mb_per_min": _slope([s for s in after if s["t"] >= samples[-1]["t"] / 2]),
            "warmup_s": round(warmup, 1)}


def _round(mb: float | None) -> float | None:
    return round(mb, 2) if mb is not None else None


def _slope(samples: list[dict[str, float]]) -> float | None:
    """Least-squares RSS slope (MB per minute): a leak keeps a slope, a filling cache flattens out."""
    if len(samples) < 10:
        return None
    import numpy as np

    return round(float(np.polyfit([s["t"] for s in samples], [_cloud_rss(s) for s in samples], 1)[0]) * 60, 3)
