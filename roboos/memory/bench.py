"""``roboos bench memory``: history append rate and random-access latency at 1M entries, and memory update
latency with many concurrent robots, for SQLite (WAL) and Redis. Prints a table, writes JSON."""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from roboos.memory import Change, MemoryConfig, Record, open_history, open_memory

BATCH = 1000
TASKS, ROBOTS = 1000, 100


def _pct(samples: list[float]) -> dict[str, float]:
    """p50 / p99 / max / mean in microseconds."""
    xs = sorted(samples)
    if not xs:
        return {}
    return {"p50_us": xs[len(xs) // 2] * 1e6, "p99_us": xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1e6,
            "max_us": xs[-1] * 1e6, "mean_us": statistics.fmean(xs) * 1e6, "n": len(xs)}


def _timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _records(start: int, count: int, t0: float) -> Iterator[Record]:
    for i in range(start, start + count):
        robot = f"robot{i % ROBOTS}"
        if i % 4 == 0:
            yield Record(kind="task.step", task=f"task{(i // 4) % TASKS}", robot=robot, ts=t0 + i * 1e-3,
                         data={"message": f"s{i % 7} {robot}.pick(object=cup{i % 13}) succeeded", "seq": i})
        else:
            yield Record(kind="robot.state", robot=robot, ts=t0 + i * 1e-3,
                         data={"status": "busy", "location": f"place{i % 10}", "holding": None,
                               "pose": {"x": i % 100 / 10, "y": 1.5, "theta": 0.1}})


def bench_history(config: MemoryConfig, entries: int, progress: Any) -> dict[str, Any]:
    log = open_history(config)
    t0 = time.time() - entries * 1e-3
    job = progress.add_task(f"{config.backend}: append {entries:,} history entries", total=entries)
    start = time.perf_counter()
    for first in range(0, entries, BATCH):
        n = min(BATCH, entries - first)
        log.append_many(list(_records(first, n, t0)))
        progress.advance(job, n)
    batched_s = time.perf_counter() - start
    single = _timed(lambda: log.append("robot.state", {"status": "idle"}, robot="robot1"), 5000)
    last = log.last_seq()
    rng = random.Random(0)
    job = progress.add_task(f"{config.backend}: random access", total=4)
    get = _timed(lambda: log.get(rng.randint(1, last)), 5000)
    progress.advance(job)
    by_task = _timed(lambda: log.query(task=f"task{rng.randrange(TASKS)}", limit=50), 1000)
    progress.advance(job)

    def window() -> None:
        a = t0 + rng.uniform(0, entries * 1e-3 - 1)
        log.query(start_ts=a, end_ts=a + 0.1, limit=200)  # a 100 ms window (~100 entries)

    by_time = _timed(window, 1000)
    progress.advance(job)
    by_robot = _timed(lambda: log.query(robot=f"robot{rng.randrange(ROBOTS)}", after_seq=rng.randint(1, last),
                                        limit=20), 1000)
    progress.advance(job)
    result = {
        "entries": log.count(),
        "append_batched_per_s": entries / batched_s,
        "append_batched_s": batched_s,
        "append_single": {**_pct(single), "per_s": len(single) / sum(single)},
        "get_by_seq": _pct(get),
        "query_task_50": _pct(by_task),
        "query_time_100ms": _pct(by_time),
        "query_robot_after_seq_20": _pct(by_robot),
    }
    log.close()
    return result


def bench_updates(config: MemoryConfig, robots: int, updates: int, progress: Any) -> dict[str, Any]:
    """``robots`` threads, each applying ``updates`` state changes to its own robot entry at once."""
    store = open_memory(config)
    store.clear(["robot"])
    sequential = _timed(lambda: store.apply([Change("robot", "solo", "pose", {"x": 1.0, "y": 2.0, "theta": 0.0}),
                                             Change("robot", "solo", "status", "busy")]), 2000)
    store.delete("robot", "solo")
    barrier = threading.Barrier(robots)
    samples: list[list[float]] = [[] for _ in range(robots)]
    job = progress.add_task(f"{config.backend}: {robots} robots × {updates} updates", total=robots * updates)

    def robot(i: int) -> None:
        name = f"robot{i}"
        barrier.wait()
        out = samples[i]
        for n in range(updates):
            t = time.perf_counter()
            store.apply([Change("robot", name, "pose", {"x": n * 0.01, "y": i, "theta": 0.0}),
                         Change("robot", name, "status", "busy" if n % 2 else "idle")])
            out.append(time.perf_counter() - t)
            progress.advance(job)

    threads = [threading.Thread(target=robot, args=(i,)) for i in range(robots)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    entries = store.all("robot")
    lost = sum(1 for e in entries.values() if e.version != updates) + robots - len(entries)
    store.close()
    flat = [x for xs in samples for x in xs]
    return {"robots": robots, "updates_per_robot": updates, "updates_per_s": len(flat) / elapsed,
            "latency": _pct(flat), "robots_with_lost_updates": lost, "single_writer_latency": _pct(sequential),
            "note": "concurrent robots are threads of one Python process sharing one store object; their "
                    "latency includes waiting for the GIL and the store's lock"}


@contextmanager
def redis_server(url: str | None) -> Iterator[tuple[str, str]]:
    """The given Redis, or a redis-server started on a free loopback port (no persistence) for the run."""
    if url:
        yield url, "given"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found; install it (apt-get install -y redis-server) or pass --redis-url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="roboos-bench-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0", "started for the run (no persistence)"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def _machine() -> dict[str, Any]:
    from roboos.bench import cpu_model

    return {"hostname": platform.node(), "cpu": cpu_model(), "cores": os.cpu_count(), "python": sys.version.split()[0],
            "platform": platform.platform(), "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}


def run_bench(*, entries: int, robots: int, updates: int, backends: list[str], redis_url: str | None,
              out: Path | None, command: str = "") -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    console = Console()
    results: dict[str, Any] = {"bench": "memory", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "command": command or " ".join(["roboos", *sys.argv[1:]]), "machine": _machine(),
                               "versions": {"sqlite": sqlite3.sqlite_version}, "backends": {}}
    tmp = Path(tempfile.mkdtemp(prefix="roboos-bench-memory-"))
    try:
        with Progress(console=console, transient=True) as progress:
            for backend in backends:
                if backend == "redis":
                    with redis_server(redis_url) as (url, how):
                        import redis

                        client = redis.Redis.from_url(url)
                        client.flushdb()
                        results["versions"]["redis_server"] = client.info("server")["redis_version"]
                        results["versions"]["redis_py"] = redis.__version__
                        config = MemoryConfig(backend="redis", redis_url=url, namespace="bench")
                        entry = {"server": how, "history": bench_history(config, entries, progress),
                                 "updates": bench_updates(config, robots, updates, progress),
                                 "used_memory_mb": client.info("memory")["used_memory"] / 2**20}
                        client.close()
                else:
                    config = MemoryConfig(backend=backend, path=str(tmp / f"{backend}.db"))
                    entry = {"history": bench_history(config, entries, progress) if backend == "sqlite" else None,
                             "updates": bench_updates(config, robots, updates, progress)}
                    if backend == "sqlite":
                        entry["file_mb"] = sum(p.stat().st_size for p in tmp.glob("sqlite.db*")) / 2**20
                        entry["settings"] = "WAL, synchronous=NORMAL, one connection per process"
                results["backends"][backend] = entry
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = Table(title=f"roboos bench memory — {entries:,} history entries, {robots} robots × {updates} updates")
    table.add_column("metric")
    for backend in results["backends"]:
        table.add_column(backend, justify="right")

    def row(label: str, fn: Callable[[dict[str, Any]], Any]) -> None:
        cells = []
        for entry in results["backends"].values():
            try:
                value = fn(entry)
            except (KeyError, TypeError):
                value = None
            cells.append("—" if value is None else (f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)))
        table.add_row(label, *cells)

    row("history append, batched ×1000 (entries/s)", lambda e: e["history"]["append_batched_per_s"])
    row("history append, one per tx (entries/s)", lambda e: e["history"]["append_single"]["per_s"])
    row("history append, one per tx p99 (µs)", lambda e: e["history"]["append_single"]["p99_us"])
    for key, label in (("get_by_seq", "get by seq"), ("query_task_50", "query task (50)"),
                       ("query_time_100ms", "query 100 ms window"), ("query_robot_after_seq_20", "query robot after seq (20)")):
        row(f"{label} p50 / p99 (µs)", lambda e, k=key: f"{e['history'][k]['p50_us']:,.0f} / {e['history'][k]['p99_us']:,.0f}")
    row("state update, one writer p50 / p99 (µs)", lambda e: f"{e['updates']['single_writer_latency']['p50_us']:,.0f} / "
        f"{e['updates']['single_writer_latency']['p99_us']:,.0f}")
    row(f"state updates, {robots} robots at once (updates/s)", lambda e: e["updates"]["updates_per_s"])
    row(f"state update, {robots} robots p50 / p99 (µs)", lambda e: f"{e['updates']['latency']['p50_us']:,.0f} / {e['updates']['latency']['p99_us']:,.0f}")
    row("robots with lost updates", lambda e: e["updates"]["robots_with_lost_updates"])
    row("storage (MB)", lambda e: e.get("file_mb") or e.get("used_memory_mb"))
    console.print(table)
    if out is None:
        name = results["machine"]["hostname"].split(".")[0] or "machine"
        out = Path("benchmarks/results") / f"memory-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {out}")
    return results
