"""``roboos bench sim``: episodes per minute of the RoboOS agent on a full suite, and sim steps/s per worker."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def raw_steps_per_s(scene: str = "household", seconds: float = 2.0) -> float:
    """Physics steps per second of one process (no rendering) in a scene with a few objects."""
    import numpy as np

    from roboos.sim.mujoco.scenes import ObjectSpec
    from roboos.sim.mujoco.world import MujocoWorld

    objs = [ObjectSpec("red_cube", "cube", "red"), ObjectSpec("blue_can", "can", "blue")]
    world = MujocoWorld(scene, objs)
    world.scatter({"red_cube": "workbench" if scene == "household" else "table",
                   "blue_can": "workbench" if scene == "household" else "table"}, np.random.default_rng(0))
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        world.step(100)
        steps += 100
    rate = steps / (time.perf_counter() - start)
    world.close()
    return rate


def render_fps(size: int = 224, frames: int = 20) -> float:
    from roboos.sim.mujoco.world import MujocoWorld

    world = MujocoWorld("tabletop", [])
    world.render(None, size, size)  # context creation
    start = time.perf_counter()
    for _ in range(frames):
        world.render(None, size, size)
    fps = frames / (time.perf_counter() - start)
    world.close()
    return fps


def machine() -> dict[str, Any]:
    from roboos.bench import cpu_model

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def run_bench(*, suite: str, seeds: int, workers: int, out_dir: Path, machine_name: str | None = None) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from roboos.sim.competition.episode import versions
    from roboos.sim.competition.runner import RunConfig, run_suite

    console = Console()
    load_before = round(os.getloadavg()[0], 2)
    console.print("measuring raw physics and rendering speed ...")
    steps = {scene: raw_steps_per_s(scene) for scene in ("tabletop", "household")}
    fps = render_fps()
    with tempfile.TemporaryDirectory(prefix="roboos-bench-sim-") as tmp:
        config = RunConfig(suite=suite, agent="roboos", seeds=list(range(seeds)), workers=workers,
                           out_dir=tmp, command="roboos " + " ".join(sys.argv[1:]))
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            bar = progress.add_task(f"suite {suite} x {seeds} seeds, {workers} workers", total=None)
            summary = run_suite(config, lambda r, done, total: progress.update(bar, completed=done, total=total))
    result = {
        "bench": "sim", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "roboos " + " ".join(sys.argv[1:]), "machine": machine(), "versions": versions(),
        "suite": suite, "seeds": seeds, "workers": workers,
        "episodes": summary["overall"]["episodes"], "success_rate": summary["overall"]["success_rate"],
        "suite_wall_s": summary["wall_s"], "episodes_per_min": summary["episodes_per_min"],
        "suite_sim_steps_per_s": summary["sim_steps_per_s"],
        "raw_sim_steps_per_s_per_worker": {k: round(v) for k, v in steps.items()},
        "render_224_fps": round(fps, 1), "tiers": summary["tiers"],
        "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},  # shared machine
        "target": "full suite (>= 12 tasks x 5 seeds) in < 15 min on 2 cores",
        "target_met": summary["wall_s"] < 900 and summary["overall"]["episodes"] >= 60,
    }
    table = Table(title="roboos bench sim")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("episodes", "success_rate", "suite_wall_s", "episodes_per_min", "suite_sim_steps_per_s",
                "render_224_fps", "target_met"):
        table.add_row(key, str(result[key]))
    for scene, rate in result["raw_sim_steps_per_s_per_worker"].items():
        table.add_row(f"raw sim steps/s ({scene}, 1 worker)", str(rate))
    console.print(table)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = machine_name or platform.node().split(".")[0] or "machine"
    path = out_dir / f"sim-{name}.json"
    path.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {path}")
    return result
