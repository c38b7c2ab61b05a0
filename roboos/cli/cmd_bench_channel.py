"""``roboos bench channel``: channel round-trip latency vs. bare ZeroMQ, websockets and gRPC, plus a fleet."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from roboos.cli.groups import bench_app


def register(app: typer.Typer) -> None:
    """Commands are attached to the shared ``bench`` group at import time."""


@bench_app.command("channel")
def bench_channel(
    samples: int = typer.Option(2000, help="Timed round trips per transport and message kind."),
    warmup: int = typer.Option(200, help="Untimed round trips first (per transport and kind)."),
    rounds: int = typer.Option(20, help="Rounds rotating the transport order; ratios are also paired per round "
                                "(fair on a busy machine)."),
    transports: str = typer.Option("roboos,zmq,websocket,grpc", help="Comma list of transports to run."),
    kinds: str = typer.Option("control,image", help="Comma list: control (≤1 KB call) and/or image."),
    fleet_robots: int = typer.Option(50, help="Edge connections in the fleet phase (0 skips it)."),
    fleet_seconds: float = typer.Option(5.0, help="Duration of the fleet phase."),
    fleet_state_hz: float = typer.Option(100.0, help="STATE messages per second per robot."),
    fleet_call_hz: float = typer.Option(10.0, help="Calls per second per robot."),
    fleet_workers: int = typer.Option(2, help="Processes hosting the fleet's edges."),
    throughput_seconds: float = typer.Option(2.0, help="Pipelined throughput phase per transport and kind "
                                             "(0 skips it)."),
    throughput_window: int = typer.Option(16, help="Requests in flight in the pipelined phase."),
    quick: bool = typer.Option(False, help="A short run (200 samples, 10 robots, 1 s) for smoke tests."),
    notes: str = typer.Option("", help="Free text stored in the JSON (e.g. 'shared 2-core box')."),
    out: Optional[Path] = typer.Option(None, help="JSON path (default benchmarks/results/channel-<machine>.json)."),
) -> None:
    """Round-trip p50/p99/max and throughput of the RoboOS channel and three baselines, then a fleet."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from roboos.bench import RESULTS_DIR, machine_slug, write_result
    from roboos.bench.channel import ChannelBenchOptions, run_channel_bench
    from roboos.bench.channel_report import render

    if quick:
        samples, warmup, rounds = min(samples, 200), min(warmup, 20), min(rounds, 2)
        fleet_robots, fleet_seconds = min(fleet_robots, 10), min(fleet_seconds, 1.0)
        throughput_seconds = min(throughput_seconds, 0.3)
    opts = ChannelBenchOptions(
        samples=samples, warmup=warmup, rounds=rounds,
        transports=tuple(t.strip() for t in transports.split(",") if t.strip()),
        kinds=tuple(k.strip() for k in kinds.split(",") if k.strip()),
        fleet_robots=fleet_robots, fleet_seconds=fleet_seconds, fleet_state_hz=fleet_state_hz,
        fleet_call_hz=fleet_call_hz, fleet_workers=fleet_workers, notes=notes,
        throughput_seconds=throughput_seconds, throughput_window=throughput_window,
        command="roboos bench channel " + " ".join(shlex.quote(a) for a in sys.argv[3:]),
    )
    for k in opts.kinds:
        if k not in ("control", "image"):
            raise typer.BadParameter(f"unknown kind {k!r}: use control and/or image", param_hint="--kinds")
    console = Console()
    per_task = opts.samples // max(1, opts.rounds) * max(1, opts.rounds)
    fleet_calls = int(opts.fleet_robots * opts.fleet_call_hz * opts.fleet_seconds)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        tasks: dict[str, int] = {}
        for k in opts.kinds:
            for t in opts.transports:
                tasks[f"{k}/{t}"] = bar.add_task(f"{k:7s} {t}", total=per_task)
        if opts.fleet_robots:
            tasks["fleet"] = bar.add_task(f"fleet   {opts.fleet_robots} robots", total=fleet_calls)

        def advance(label: str, n: int) -> None:
            if label in tasks:
                bar.advance(tasks[label], n)

        result = run_channel_bench(opts, advance)
    render(result, console)
    path = out or RESULTS_DIR / f"channel-{machine_slug()}.json"
    write_result(path, result)
    from roboos.bench.channel_plot import plot_channel

    picture = plot_channel(result, Path(path).with_suffix(".png"))
    console.print(f"[dim]wrote {path}{f' and {picture}' if picture else ''}[/dim]")
