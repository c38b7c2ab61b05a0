"""Benchmark helpers shared by every ``roboos bench …`` command: machine facts, latency summaries, JSON."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import socket
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path("benchmarks") / "results"


def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(packages: Iterable[str] = ()) -> dict[str, Any]:
    """Facts that make a result reproducible: host, CPU, cores, load, Python and library versions."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    versions = {}
    for pkg in packages:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "hostname": socket.gethostname(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_avg_1_5_15": load,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": versions,
    }


def machine_slug() -> str:
    """A short file-name-safe machine name: ``<cores>cpu`` plus the hostname."""
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", socket.gethostname())[:40] or "host"
    return f"{host}-{os.cpu_count()}cpu"


def latency_summary(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in microseconds plus sequential throughput (round trips per second)."""
    if not samples_s:
        return {"n": 0}
    a = np.asarray(samples_s, dtype=np.float64) * 1e6
    return {
        "n": int(a.size),
        "p50_us": float(np.percentile(a, 50)),
        "p90_us": float(np.percentile(a, 90)),
        "p99_us": float(np.percentile(a, 99)),
        "max_us": float(a.max()),
        "mean_us": float(a.mean()),
        "throughput_per_s": float(1e6 / a.mean()),
    }


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_result(path: str | Path, data: dict[str, Any]) -> Path:
    """Write a JSON result (creating folders), pretty-printed and stable."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return p
