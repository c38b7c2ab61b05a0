"""``roboos bench fuzz`` and ``roboos bench load``: the reliability benchmarks (issue 11)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from roboos.cli.groups import bench_app


def register(app: typer.Typer) -> None:
    """The commands are attached to the shared ``bench`` group at import time."""


def _command() -> str:
    return "roboos " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@bench_app.command("fuzz")
def bench_fuzz(
    inputs: int = typer.Option(100_000, help="Inputs per surface."),
    seconds: Optional[float] = typer.Option(None, help="Stop each surface after this many seconds (recorded)."),
    surface: list[str] = typer.Option([], help="Only these surfaces (default: all)."),
    seed: int = typer.Option(0, help="Mutator seed."),
    out: Optional[Path] = typer.Option(None, help="JSON path (default benchmarks/results/fuzz-<machine>.json)."),
) -> None:
    """Mutated inputs against every decoder of outside input: crashes, hangs, memory, liveness."""
    import logging

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from roboos.bench import RESULTS_DIR, machine_info, machine_slug, utc_now, write_result
    from roboos.bench.fuzz import SURFACES, run_fuzz

    names = surface or list(SURFACES)
    unknown = [n for n in names if n not in SURFACES]
    if unknown:
        raise typer.BadParameter(f"unknown surface(s) {unknown}; known: {', '.join(SURFACES)}")
    logging.disable(logging.WARNING)  # rejected inputs are logged by design; keep the table readable
    console = Console()
    with Progress(console=console) as bar:
        def progress(name: str, total: int):  # noqa: ANN202
            task = bar.add_task(name, total=total)
            return lambda: bar.advance(task)

        results = run_fuzz(names, inputs, seconds=seconds, seed=seed, progress=progress)
    table = Table(title="Fuzzing: every decoder of outside input")
    for col in ("surface", "inputs", "inputs/s", "accepted", "rejected (typed)", "findings", "slowest (ms)",
                "alive", "RSS after warm-up → end (MB)"):
        table.add_column(col, justify="right")
    for r in results:
        rejected = sum(v for k, v in r["outcomes"].items() if k.startswith("rejected"))
        table.add_row(r["surface"], str(r["inputs"]), f"{r['inputs_per_s']:.0f}", str(r["outcomes"].get("accepted", 0)),
                      str(rejected), str(r["crashes"]), f"{r['slowest_input_s'] * 1e3:.1f}",
                      "yes" if r["alive_at_end"] and not r["liveness_failures"] else "NO",
                      f"{r['rss_mb']['after_warmup']:.0f} → {r['rss_mb']['end']:.0f}")
    console.print(table)
    data = {"bench": "fuzz", "date": utc_now(), "command": _command(), "inputs_per_surface": inputs,
            "seconds_per_surface": seconds, "seed": seed,
            "machine": machine_info(["pyzmq", "msgpack", "grpcio", "websockets", "fastapi", "hypothesis"]),
            "surfaces": results}
    path = write_result(out or RESULTS_DIR / f"fuzz-{machine_slug()}.json", data)
    console.print(f"wrote {path}")
    if any(r["crashes"] or r["liveness_failures"] for r in results):
        raise typer.Exit(1)
