"""``roboos bench brain``: decode speed of the RoboBrain2.0-7B architecture (GPU).

Wraps ``python -m roboos.brain.engine.bench`` (which needs only torch + transformers, for bare GPU boxes)
with a rich table and the default result path ``benchmarks/results/brain-<gpu>.json``.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from roboos.cli.groups import bench_app


def register(app: typer.Typer) -> None:
    bench_app.command("brain")(bench_brain)


def bench_brain(
    preset: str = typer.Option("7b", "--preset", help="7b (RoboBrain2.0-7B / Qwen2.5-VL-7B) or tiny (smoke run)."),
    prompt_len: int = typer.Option(256, "--prompt-len", help="Prompt tokens."),
    new_tokens: int = typer.Option(128, "--new-tokens", help="Generated tokens per row."),
    batches: list[int] = typer.Option([1, 8], "--batch", "-b", help="Batch sizes (repeatable)."),
    backends: list[str] = typer.Option(["engine", "hf_static", "hf_dynamic"], "--backend",
                                       help="engine, hf_static, hf_dynamic (repeatable)."),
    repeats: int = typer.Option(3, "--repeats", help="Timed repetitions (median)."),
    device: str = typer.Option("cuda", "--device", help="cuda, or cpu for a smoke run of the harness."),
    out: str | None = typer.Option(None, "--out", help="JSON path (default benchmarks/results/brain-<gpu>.json)."),
) -> None:
    """Decode tok/s at each batch size: transformers dynamic cache, static cache, and the fast engine."""
    import argparse
    import shlex
    import sys

    import torch
    from rich.console import Console
    from rich.table import Table

    from roboos.brain.engine import bench

    console = Console()
    if device == "cuda" and not torch.cuda.is_available():
        console.print("[red]roboos bench brain needs a CUDA GPU[/] (use --device cpu --preset tiny for a smoke run)")
        raise typer.Exit(1)
    if out is None:
        name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        out = f"benchmarks/results/brain-{slug}.json"
    args = argparse.Namespace(preset=preset, prompt_len=prompt_len, new_tokens=new_tokens, batches=batches,
                              backends=backends, repeats=repeats, warmup=1, out=out, device=device)
    command = "roboos " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    doc = bench.run(args, command, log=lambda msg: console.log(msg))
    table = Table(title=f"brain decode speed ({preset}, prompt {prompt_len}, {new_tokens} new tokens)")
    for col in ("backend", "batch", "decode tok/s", "e2e tok/s", "total s"):
        table.add_column(col, justify="right" if col != "backend" else "left")
    for row in doc["results"]:
        if "error" in row:
            table.add_row(row["backend"], str(row["batch"]), "error", row["error"][:40], "")
        else:
            table.add_row(row["backend"], str(row["batch"]), f"{row['decode_tok_s']:.1f}", f"{row['e2e_tok_s']:.1f}",
                          f"{row['t_total_s']:.3f}")
    console.print(table)
    console.print(f"results: {out}")
    try:
        from roboos.brain.engine.plot import plot_result

        console.print(f"chart: {plot_result(doc, Path(out).with_suffix('.png'))}")
    except ImportError:
        console.print("[dim]matplotlib not installed: no chart[/]")
