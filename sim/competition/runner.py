"""The competition runner: episodes in worker processes, crash isolation, per-episode JSON, roll-ups.

Each worker is a spawned process that runs episodes one at a time. A worker that dies (segfault, OOM,
``os._exit``) or overruns the per-episode limit is killed and replaced; its episode is recorded as a
crashed failure and the run goes on. Results land in ``<out>/episodes/<task>__seed<N>.json``;
``<out>/run.json`` records the suite, seeds, agent, versions and command (to reproduce the run) and
``<out>/summary.json`` rolls the episodes up per task, per tier and for the suite.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from roboos.sim.tasks.spec import SuiteSpec, TaskSpec, load_suite


STARTUP_GRACE_S = 120.0  # a fresh worker may take this long to import before its first episode starts


@dataclass
class RunConfig:
    """One competition run (one submission on one suite)."""

    suite: str
    agent: str = "roboos"
    seeds: list[int] = field(default_factory=lambda: [0])
    workers: int = 2
    out_dir: str = "results/sim/run"
    name: str = ""  # submission name on the leaderboard (default: the agent)
    tiers: list[int] = field(default_factory=list)  # empty: all tiers
    tasks: list[str] = field(default_factory=list)  # empty: all tasks
    gif: bool = False
    episode_timeout_s: float = 300.0  # wall clock; the worker is killed beyond it
    agent_options: dict[str, Any] = field(default_factory=dict)
    fault: dict[str, str] = field(default_factory=dict)  # fault injection for harness tests: {task: crash|hang}
    command: str = ""


def select_tasks(suite: SuiteSpec, config: RunConfig) -> list[TaskSpec]:
    tasks = [t for t in suite.tasks if (not config.tiers or t.tier in config.tiers)
             and (not config.tasks or t.name in config.tasks)]
    unknown = set(config.tasks) - {t.name for t in suite.tasks}
    if unknown:
        raise KeyError(f"unknown task(s) {', '.join(sorted(unknown))} in suite '{suite.name}'")
    if not tasks:
        raise ValueError("no task of the suite matches the tier/task filters")
    return tasks


# ------------------------------------------------------------------------------------------ workers
def _worker_main(worker_id: int, jobs: Any, results: Any, config: dict[str, Any]) -> None:
    """Worker process: run episodes until told to stop (``None``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills workers
    from roboos.sim.competition.episode import run_episode

    cfg = RunConfig(**config)
    suite = load_suite(cfg.suite)
    out_dir = Path(cfg.out_dir)
    while True:
        job = jobs.get()
        if job is None:
            return
        task_name, seed = job
        results.put(("start", worker_id, job, None))
        fault = cfg.fault.get(task_name)
        if fault == "crash":
            time.sleep(0.2)  # let the queue's feeder thread flush the start message
            os.kill(os.getpid(), signal.SIGSEGV)
        if fault == "hang":
            time.sleep(3600)
        try:
            result = run_episode(suite.name, suite.task(task_name), seed, agent=cfg.agent, out_dir=out_dir,
                                 gif=cfg.gif, agent_options=cfg.agent_options).to_dict()
            results.put(("done", worker_id, job, result))
        except Exception as exc:  # noqa: BLE001 - an episode error is a recorded failure, not a crash
            results.put(("error", worker_id, job, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"))


@dataclass
class _Worker:
    proc: Any
    jobs: Any
    job: tuple[str, int] | None = None
    started: float = 0.0


class WorkerPool:
    """Spawned worker processes, each fed one job at a time through its own queue."""

    def __init__(self, size: int, config: RunConfig) -> None:
        self.ctx = mp.get_context("spawn")
        self.results = self.ctx.Queue()
        self.config = config
        self.workers = [self._spawn(i) for i in range(max(1, size))]

    def _spawn(self, worker_id: int) -> _Worker:
        jobs = self.ctx.Queue()
        proc = self.ctx.Process(target=_worker_main, args=(worker_id, jobs, self.results, asdict(self.config)),
                                name=f"roboos-sim-worker-{worker_id}", daemon=True)
        proc.start()
        return _Worker(proc=proc, jobs=jobs)

    def replace(self, worker_id: int) -> None:
        old = self.workers[worker_id]
        if old.proc.is_alive():
            old.proc.kill()
        old.proc.join(5)
        self.workers[worker_id] = self._spawn(worker_id)

    def close(self) -> None:
        for w in self.workers:
            if w.proc.is_alive():
                try:
                    w.jobs.put(None)
                except (OSError, ValueError):
                    pass
        deadline = time.monotonic() + 5
        for w in self.workers:
            w.proc.join(max(0.1, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(5)


def _failed(config: RunConfig, suite: SuiteSpec, job: tuple[str, int], reason: str, crashed: bool) -> dict[str, Any]:
    from roboos.sim.competition.episode import EpisodeResult, versions
    from roboos.sim.tasks.spec import sample_episode

    task = suite.task(job[0])
    result = EpisodeResult(suite=suite.name, task=task.name, tier=task.tier, seed=job[1], agent=config.agent,
                           instruction=sample_episode(task, job[1]).instruction, reason=reason, crashed=crashed,
                           versions=versions())
    return result.to_dict()


def run_suite(config: RunConfig, on_result: Callable[[dict[str, Any], int, int], None] | None = None) -> dict[str, Any]:
    """Run every (task, seed) episode of the selection in worker processes; returns the summary."""
    suite = load_suite(config.suite)
    tasks = select_tasks(suite, config)
    jobs = [(t.name, s) for t in tasks for s in config.seeds]
    out = Path(config.out_dir)
    (out / "episodes").mkdir(parents=True, exist_ok=True)
    started = time.time()
    _write_json(out / "run.json", run_metadata(config, suite, started))
    pending = list(reversed(jobs))
    results: list[dict[str, Any]] = []
    pool = WorkerPool(min(config.workers, len(jobs)), config)

    def record(result: dict[str, Any]) -> None:
        results.append(result)
        _write_json(out / "episodes" / f"{result['task']}__seed{result['seed']}.json", result)
        if on_result is not None:
            on_result(result, len(results), len(jobs))

    try:
        while pending or any(w.job for w in pool.workers):
            for w in pool.workers:
                if w.job is None and pending and w.proc.is_alive():
                    w.job, w.started = pending.pop(), time.monotonic() + STARTUP_GRACE_S
                    w.jobs.put(w.job)
            try:
                kind, worker_id, job, payload = pool.results.get(timeout=0.2)
                worker = pool.workers[worker_id]
                if kind == "start" and worker.job == tuple(job):
                    worker.started = time.monotonic()  # the episode clock starts when the worker picks it up
                elif worker.job == tuple(job):
                    worker.job = None
                    record(payload if kind == "done" else _failed(config, suite, tuple(job),
                                                                   f"episode error: {payload}", crashed=False))
            except queue.Empty:
                pass
            for i, w in enumerate(pool.workers):
                if w.job is None:
                    if not w.proc.is_alive():
                        pool.replace(i)
                    continue
                if not w.proc.is_alive():
                    code = w.proc.exitcode
                    why = f"worker crashed (exit code {code}{', ' + _signal_name(code) if code and code < 0 else ''})"
                    record(_failed(config, suite, w.job, why, crashed=True))
                    w.job = None
                    pool.replace(i)
                elif time.monotonic() - w.started > config.episode_timeout_s:
                    record(_failed(config, suite, w.job, f"episode overran {config.episode_timeout_s:g} s and "
                                                         "its worker was killed", crashed=True))
                    w.job = None
                    pool.replace(i)
    finally:
        pool.close()
    summary = summarize(results, config, suite, started, time.time())
    _write_json(out / "summary.json", summary)
    return summary


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


# ------------------------------------------------------------------------------------------ records
def run_metadata(config: RunConfig, suite: SuiteSpec, started: float) -> dict[str, Any]:
    from roboos.sim.competition.episode import versions
    from roboos.sim.tasks.spec import suites_dir

    suite_file = suites_dir() / f"{config.suite}.yaml"
    digest = hashlib.sha256(suite_file.read_bytes()).hexdigest()[:16] if suite_file.exists() else ""
    return {"name": config.name or config.agent, "suite": suite.name, "suite_sha256": digest,
            "agent": config.agent, "seeds": config.seeds, "tiers": config.tiers, "tasks": config.tasks,
            "workers": config.workers, "agent_options": config.agent_options,
            "command": config.command or " ".join(sys.argv), "versions": versions(),
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds")}


def summarize(results: list[dict[str, Any]], config: RunConfig, suite: SuiteSpec, started: float,
              finished: float) -> dict[str, Any]:
    """Roll episodes up per task, per tier and for the suite."""
    def rollup(items: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(items)
        ok = sum(1 for r in items if r["success"])
        return {"episodes": n, "successes": ok, "success_rate": round(ok / n, 4) if n else 0.0,
                "crashes": sum(1 for r in items if r.get("crashed")),
                "mean_sim_time_s": round(sum(r["sim_time_s"] for r in items) / n, 3) if n else 0.0,
                "mean_wall_s": round(sum(r["wall_s"] for r in items) / n, 3) if n else 0.0,
                "tokens": sum(r["prompt_tokens"] + r["completion_tokens"] for r in items),
                "sim_steps": sum(r["sim_steps"] for r in items)}

    by_task = {}
    for task in suite.tasks:
        items = [r for r in results if r["task"] == task.name]
        if items:
            by_task[task.name] = {"tier": task.tier, **rollup(items),
                                  "failures": sorted({r["reason"] for r in items if not r["success"]})[:5]}
    by_tier = {str(t): rollup([r for r in results if r["tier"] == t]) for t in sorted({r["tier"] for r in results})}
    wall = max(1e-9, finished - started)
    total = rollup(results)
    return {"name": config.name or config.agent, "suite": suite.name, "agent": config.agent,
            "seeds": config.seeds, "overall": total, "tiers": by_tier, "tasks": by_task,
            "wall_s": round(wall, 2), "episodes_per_min": round(len(results) / wall * 60, 2),
            "sim_steps_per_s": round(total["sim_steps"] / wall, 1), "workers": config.workers,
            "finished": datetime.fromtimestamp(finished, timezone.utc).isoformat(timespec="seconds")}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str))
    tmp.replace(path)
