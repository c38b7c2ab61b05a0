"""``roboos bench watchdog``: time from a cloud crash to the edge stopping a moving robot."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from roboos.cli.groups import bench_app


def register(app: typer.Typer) -> None:
    """The command is attached to the shared ``bench`` group at import time."""


@bench_app.command("watchdog")
def bench_watchdog(
    trials: int = typer.Option(5, help="Kill-the-cloud trials."),
    motion_timeout_s: float = typer.Option(0.2, help="Watchdog silence limit during motion."),
    out: Optional[Path] = typer.Option(None, help="JSON path (default benchmarks/results/watchdog-<machine>.json)."),
) -> None:
    """Kill the cloud process while a sim robot drives; time Robot.stop() and the report after restart."""
    import logging
    import socket

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from roboos.bench import RESULTS_DIR, machine_slug, write_result
    from roboos.bench.watchdog import run_watchdog_bench

    def endpoint() -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return f"tcp://127.0.0.1:{sock.getsockname()[1]}"

    logging.getLogger("roboos").setLevel(logging.ERROR)  # the trials kill clouds on purpose: keep the table clean
    console = Console()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("trials", total=trials)
        result = run_watchdog_bench(trials, motion_timeout_s, endpoint, lambda: bar.advance(task))
    result["command"] = "roboos bench watchdog " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    table = Table(title=f"Watchdog: robot stop after the cloud process is killed (limit {motion_timeout_s * 1000:.0f} "
                        "ms of silence)")
    for col in ("trial", "stop after kill (ms)", "silence at trip (ms)", "report after restart (s)"):
        table.add_column(col, justify="right")
    for i, r in enumerate(result["trials"], 1):
        table.add_row(str(i), f"{r['stop_after_kill_s'] * 1000:.0f}", f"{r['silence_at_trip_s'] * 1000:.0f}",
                      f"{r['report_after_restart_s']:.2f}")
    console.print(table)
    path = out or RESULTS_DIR / f"watchdog-{machine_slug()}.json"
    write_result(path, result)
    console.print(f"[dim]wrote {path}[/dim]")
