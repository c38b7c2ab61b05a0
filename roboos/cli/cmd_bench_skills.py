"""``roboos bench skills``: prompt tokens (a) raw tool JSON, (b) compact cards, (c) retrieved cards."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Annotated

import typer

from roboos.cli.groups import bench_app


def register(app: typer.Typer) -> None:
    """Commands are attached to ``bench_app`` at import time."""


@bench_app.command("skills")
def bench_skills_cmd(
    k: int = typer.Option(48, help="retrieved skills in prompt (c)"),
    limit: int = typer.Option(0, help="only the first N instructions (0 = all)"),
    bm25_only: bool = typer.Option(False, "--bm25-only", help="retrieve without the embedding model"),
    out: Annotated[Path | None, typer.Option(help="JSON path (default benchmarks/results/skills-<machine>.json)")]
    = None,
) -> None:
    """Token counts (exact Qwen BPE), recall@k and retrieval latency of skill retrieval."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from roboos.skills.benchlib.bench import run_bench

    with Progress() as bar:
        task = bar.add_task("instructions", total=None)
        result = run_bench(k_main=k, limit=limit or None, embedder=None if bm25_only else "auto",
                           progress=lambda i, n: bar.update(task, completed=i, total=n))
    result["command"] = " ".join(["roboos", "bench", "skills"] + sys.argv[3:])
    tok = result["tokens"]
    table = Table(title=f"Skill prompt tokens ({result['skills']} skills, {result['instructions']} instructions, "
                        f"{result['retrieval_mode']})")
    for col in ("prompt", "mean tokens", "vs (a)"):
        table.add_column(col)
    table.add_row("(a) RoboOS-2.0 raw tool JSON", f"{tok['a_roboos2_raw_json']:.0f}", "-")
    table.add_row("(b) compact cards, all", f"{tok['b_compact_all']:.0f}", f"-{tok['reduction_b_vs_a']:.1%}")
    table.add_row(f"(c) compact cards, top-{k}", f"{tok['c_compact_retrieved']:.0f}", f"-{tok['reduction_c_vs_a']:.1%}")
    Console().print(table)
    Console().print("recall@k:", result["recall_at_k"], " latency ms:", result["latency_ms"],
                    " targets:", result["targets"])
    import os

    machine = f"{platform.node() or 'machine'}-{os.cpu_count()}cpu"
    path = out or Path("benchmarks/results") / f"skills-{machine}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    Console().print(f"wrote {path}")
