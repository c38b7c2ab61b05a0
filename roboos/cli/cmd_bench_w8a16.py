"""``roboos bench w8a16``: W8A16 kernels vs bf16 cuBLAS and FlagGems per 7B shape, and end-to-end decode (GPU).

Wraps :mod:`roboos.brain.quant.bench` (torch / triton / transformers only, so it also runs on bare GPU boxes
as ``python -m roboos.brain.quant.bench``) with a rich table; writes ``benchmarks/results/w8a16-<gpu>.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from roboos.cli.groups import bench_app


def register(app: typer.Typer) -> None:
    bench_app.command("w8a16")(bench_w8a16)


def bench_w8a16(
    out: Path = typer.Option(Path("benchmarks/results"), "--out", help="Folder for w8a16-<gpu>.json (and the "
                             "tuned table when --tune)."),
    tune: bool = typer.Option(False, "--tune/--no-tune", help="Re-tune the kernel table in this run (else use the "
                              "committed configs/kernels/<gpu>.json)."),
    e2e: bool = typer.Option(True, "--e2e/--no-e2e", help="End-to-end decode of the 7B architecture."),
    table: Optional[Path] = typer.Option(None, "--table", help="Kernel table file to use instead."),
    new_tokens: int = typer.Option(256, "--new-tokens", help="Decode steps timed end to end."),
    hf_compile: bool = typer.Option(False, "--hf-compile", help="Also time transformers' static cache with "
                                    "torch.compile (minutes to compile)."),
) -> None:
    """Per-shape W8A16 kernel time and GB/s at M = 1, 4, 16, 64, 512 against bf16 cuBLAS and FlagGems; decode
    tokens/s of bf16 vs W8A16 through the fast engine, transformers static cache as reference."""
    import torch
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not torch.cuda.is_available():
        console.print("[red]roboos bench w8a16 needs a CUDA GPU[/]")
        raise typer.Exit(1)
    from roboos.brain.quant.bench import run

    result = run(out, tune=tune, e2e=e2e, table_file=table, new_tokens=new_tokens, hf_compile=hf_compile,
                 log=lambda msg: console.log(msg))
    view = Table(title=f"W8A16 kernels on {result['env']['gpu']} (graph-replayed us where measured)")
    impls = sorted({r["impl"] for r in result["kernels"]})
    view.add_column("shape")
    view.add_column("M", justify="right")
    for impl in impls:
        view.add_column(f"{impl} us", justify="right")
        view.add_column("GB/s", justify="right")
    for shape in dict.fromkeys(r["shape"] for r in result["kernels"]):
        for m in sorted({r["m"] for r in result["kernels"] if r["shape"] == shape}):
            cells = []
            for impl in impls:
                r = next((r for r in result["kernels"] if (r["shape"], r["m"], r["impl"]) == (shape, m, impl)), {})
                us, gbps = r.get("graph_us", r.get("us")), r.get("graph_gbps", r.get("gbps"))
                cells += [f"{us:.1f}" if us else "-", f"{gbps:.0f}" if gbps else "-"]
            view.add_row(shape, str(m), *cells)
    console.print(view)
    try:
        from roboos.brain.quant.configs import gpu_slug
        from roboos.brain.quant.plot import plot_results
        stem = out / f"w8a16-{gpu_slug(result['env']['gpu'])}"
        console.print(f"picture: {plot_results(stem.with_suffix('.json'), stem.with_suffix('.png'))}")
    except ImportError as exc:  # matplotlib is optional
        console.print(f"[yellow]no picture ({exc})[/]")
    e2e_res = result.get("e2e") or {}
    for key in ("hf_static_bf16", "fast_bf16", "fast_w8a16"):
        if "tokens_per_s" in e2e_res.get(key, {}):
            console.print(f"{key}: {e2e_res[key]['tokens_per_s']:.1f} tok/s")
