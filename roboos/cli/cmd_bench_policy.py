"""``roboos bench policy``: π0 chunk latency at real size on a GPU (eager vs optimized bf16 vs W8A16)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from roboos.cli.groups import bench_app


def register(app: typer.Typer) -> None:
    """Commands are attached to the shared ``bench`` group at import time."""


@bench_app.command("policy")
def bench_policy(
    cameras: str = typer.Option("1,3", help="Comma list of camera counts (224×224 each)."),
    iters: int = typer.Option(50, help="Timed chunks per optimized variant."),
    eager_iters: int = typer.Option(10, help="Timed chunks of the eager baseline."),
    batch: int = typer.Option(1, help="Observations per chunk request."),
    compile: bool = typer.Option(True, help="Include the torch.compile + CUDA graph variant."),
    w8a16: bool = typer.Option(True, help="Include W8A16 (needs roboos.brain.quant and triton)."),
    budget: float = typer.Option(900.0, help="Seconds after which the remaining variants are skipped."),
    out: Optional[Path] = typer.Option(
        None, help="JSON path (default benchmarks/results/policy-<gpu>.json)."
    ),
) -> None:
    """π0 (3.2B, random bf16 weights), 10 Euler steps, 50×32 chunks: p50/p99 per variant.

    Eager baseline, GPU default (graph + compile + fused Triton expert), W8A16.
    Older variants: python -m roboos.brain.policies.bench --help.
    """
    import re

    import torch

    from roboos.brain.policies.bench import print_table, render_chart, run_policy_bench

    if not torch.cuda.is_available():
        typer.echo("roboos bench policy needs a CUDA GPU", err=True)
        raise typer.Exit(2)
    cams = tuple(int(c) for c in cameras.split(",") if c.strip())
    command = "roboos bench policy " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    doc = run_policy_bench(cams, iters, eager_iters, batch, compile, w8a16, command=command, budget_s=budget)
    slug = re.sub(r"[^a-z0-9]+", "-", doc["machine"]["gpu"].lower()).strip("-")
    path = out or Path("benchmarks/results") / f"policy-{slug}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
    chart = render_chart(doc, path.with_suffix(".png"))
    print_table(doc)
    typer.echo(f"wrote {path}" + (f" and {chart}" if chart else ""))
