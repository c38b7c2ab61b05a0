"""``roboos bench fuzz``: N mutated inputs per surface; crash / hang / memory / liveness accounting."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import psutil

from roboos.bench.fuzz_inputs import Mutator
from roboos.bench.fuzz_live import LIVE
from roboos.bench.fuzz_surfaces import IN_PROCESS, FuzzFinding, Surface

SURFACES: dict[str, type[Surface]] = {**IN_PROCESS, **LIVE}
HANG_S = 5.0  # one input taking longer than this counts as a hang


def fuzz_surface(surface: Surface, inputs: int, *, seconds: float | None = None, seed: int = 0,
                 alive_every: int = 2000, on_input: Callable[[], None] | None = None,
                 max_findings: int = 20) -> dict[str, Any]:
    """Feed ``inputs`` mutated inputs (or until ``seconds``) to a started surface; return the figures."""
    mutator = Mutator(surface.seeds(), kind=surface.kind, seed=seed)
    proc = psutil.Process(surface.pid())
    outcomes: Counter[str] = Counter()
    findings: list[dict[str, Any]] = []
    slowest, liveness_failures, probes = 0.0, 0, 0
    rss_start = rss_warm = proc.memory_info().rss
    rss_max = rss_start
    warm_at = max(1, min(inputs, 1000) // 10)
    start = time.monotonic()
    done = 0
    for i in range(inputs):
        if seconds is not None and time.monotonic() - start > seconds:
            break
        data = mutator()
        t0 = time.perf_counter()
        try:
            outcomes[surface.feed(data)] += 1
        except FuzzFinding as exc:
            outcomes["finding"] += 1
            if len(findings) < max_findings:
                findings.append({"problem": exc.problem[:500], "input": data[:300].hex()})
        slowest = max(slowest, time.perf_counter() - t0)
        done = i + 1
        if done == warm_at:
            rss_warm = proc.memory_info().rss
        if done % 200 == 0:
            rss_max = max(rss_max, proc.memory_info().rss)
        if surface.live and done % alive_every == 0:
            probes += 1
            liveness_failures += not surface.alive()
        if on_input is not None:
            on_input()
    elapsed = time.monotonic() - start
    probes += 1
    alive = surface.alive()
    liveness_failures += not alive
    rss_end = proc.memory_info().rss
    rss_max = max(rss_max, rss_end)
    return {
        "surface": surface.name, "inputs": done, "seconds": round(elapsed, 2),
        "inputs_per_s": round(done / elapsed, 1) if elapsed else None,
        "outcomes": dict(outcomes.most_common()), "findings": findings, "crashes": outcomes["finding"],
        "slowest_input_s": round(slowest, 4), "hangs": int(slowest > HANG_S),
        "liveness_probes": probes, "liveness_failures": liveness_failures, "alive_at_end": alive,
        "rss_mb": {"start": rss_start / 2**20, "after_warmup": rss_warm / 2**20, "max": rss_max / 2**20,
                   "end": rss_end / 2**20},
        "rss_growth_after_warmup_pct": round(100 * (rss_end - rss_warm) / rss_warm, 2),
        "measured_process": "server child process" if surface.pid() != psutil.Process().pid else "this process",
        **({"server_replies": dict(surface.replies)} if isinstance(getattr(surface, "replies", None), dict)
           and all(isinstance(v, int) for v in surface.replies.values()) else {}),
    }


def run_fuzz(names: list[str], inputs: int, *, seconds: float | None, seed: int,
             progress: Callable[[str, int], Callable[[], None]] | None = None) -> list[dict[str, Any]]:
    """Fuzz each named surface in turn (each started and closed around its run)."""
    results = []
    for name in names:
        surface = SURFACES[name]()
        on_input = progress(name, inputs) if progress is not None else None
        with surface:
            results.append(fuzz_surface(surface, inputs, seconds=seconds, seed=seed, on_input=on_input))
    return results
