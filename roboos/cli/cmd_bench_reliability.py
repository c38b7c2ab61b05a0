"""``roboos bench fuzz`` and ``roboos bench load``: the reliability benchmarks (issue 11)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from roboos.cli.groups import bench_app


def register(app: typer.Typer) -> None:
    """The commands are attached to the shared ``bench`` group at import time."""


def _command() -> str:
    return "roboos " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@bench_app.command("fuzz")
def bench_fuzz(
    inputs: int = typer.Option(100_000, help="Inputs per surface."),
    seconds: float | None = typer.Option(None, help="Stop each surface after this many seconds (recorded)."),
    surface: list[str] = typer.Option([], help="Only these surfaces (default: all)."),
    seed: int = typer.Option(0, help="Mutator seed."),
    out: Path | None = typer.Option(None, help="JSON path (default benchmarks/results/fuzz-<machine>.json)."),
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
        def progress(name: str, total: int):
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
    path = Path(out or RESULTS_DIR / f"fuzz-{machine_slug()}.json")
    if surface and path.exists():  # a partial re-run replaces those surfaces in the existing result
        import json

        previous = json.loads(path.read_text())
        kept = [r for r in previous.get("surfaces", []) if r["surface"] not in names]
        data["surfaces"] = kept + results
        data["runs"] = previous.get("runs", [previous.get("command")]) + [data["command"]]
    path = write_result(path, data)
    console.print(f"wrote {path}")
    if any(r["crashes"] or r["liveness_failures"] for r in results):
        raise typer.Exit(1)


@bench_app.command("load")
def bench_load(
    agents: int = typer.Option(500, min=1, help="Simulated edge agents (protocol-level peers, one DEALER each)."),
    processes: int = typer.Option(2, min=1, help="Load-generator processes sharing the agents."),
    seconds: float = typer.Option(600.0, min=1.0, help="Soak duration after registration."),
    rate_hz: float = typer.Option(10.0, min=0.1, help="Heartbeat and state rate per agent."),
    calls_per_s: float = typer.Option(100.0, min=0.1, help="One-step tasks dispatched per second (random robots)."),
    memory: str = typer.Option("sqlite", help="Cloud memory backend: sqlite (in a temp folder) or local."),
    out: Path | None = typer.Option(None, help="JSON path (default benchmarks/results/load-<machine>.json)."),
    note: str = typer.Option("", help="Free text stored in the JSON (e.g. what else ran on the machine)."),
) -> None:
    """One cloud Master against many edge agents: dispatch latency, lost messages, CPU and memory."""
    import logging

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from roboos.bench import RESULTS_DIR, machine_info, machine_slug, utc_now, write_result
    from roboos.bench.load import run_load
    from roboos.channel.loop import run as run_loop

    if memory not in ("sqlite", "local"):
        raise typer.BadParameter("--memory must be sqlite or local")
    logging.getLogger("roboos").setLevel(logging.ERROR)
    console = Console()
    with Progress(console=console) as bar:
        task = bar.add_task(f"soak with {agents} agents", total=seconds)
        result = run_loop(run_load(agents, processes, seconds, rate_hz, calls_per_s, memory_backend=memory,
                                   progress=lambda _n, t: bar.update(task, completed=t)))

    def ms(key: str) -> str:
        d = result[key]
        return f"{d.get('p50_us', 0) / 1e3:.2f} / {d.get('p99_us', 0) / 1e3:.2f}" if d.get("n") else "-"

    table = Table(title=f"Load: {agents} agents x {rate_hz:g} Hz heartbeat+state, {calls_per_s:g} tasks/s, {seconds:g} s")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    rss = result["cloud_rss_mb"]
    rows = [("dispatch p50 / p99 (ms): submit -> edge handler", ms("dispatch_latency_s"), "p99 ≤ 5"),
            ("  cloud part / transport part p50 / p99 (ms)", f"{ms('dispatch_cloud_part_s')}  |  "
                                                             f"{ms('dispatch_transport_part_s')}", ""),
            ("task round trip p50 / p99 (ms)", ms("task_rtt_s"), ""),
            ("cloud event-loop lag p50 / p99 (ms)", ms("loop_lag_s"), ""),
            ("tasks sent / succeeded / lost", f"{result['calls_sent']} / {result['calls_answered']} / "
                                              f"{result['calls_lost']}", "0 lost"),
            ("tasks not sent (in-flight limit reached)", str(result["calls_not_sent_in_flight_limit"]), "0"),
            ("double executions", str(result["double_executions"]), "0"),
            ("states sent / received / lost", f"{result['states_sent']} / {result['states_received']} / "
                                              f"{result['states_lost']}", "0 lost"),
            ("late heartbeats (>3 periods) / timeouts", f"{result['late_heartbeats']} / "
                                                        f"{result['missed_heartbeat_timeouts']}", "0"),
            ("cloud CPU mean / load generator CPU (%)", f"{result['cloud_cpu_pct_mean']} / "
                                                        f"{result['load_generator_cpu_pct_mean']}", ""),
            ("cloud RSS median first → last 30 s (MB)",
             f"{rss['after_warmup']:.1f} → {rss['end']:.1f}" if rss["after_warmup"] else "-", ""),
            (f"RSS growth after the {result['warmup_s']:g} s warm-up (%)",
             f"{result['rss_growth_after_warmup_pct']}", "< 5"),
            ("load average at start → end", f"{result['load_avg_at_start'][0]:.1f} → {result['load_avg_at_end'][0]:.1f}",
             "")]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    data = {"bench": "load", "date": utc_now(), "command": _command(), "note": note,
            "machine": machine_info(["pyzmq", "msgpack", "pydantic"]), **result}
    path = write_result(out or RESULTS_DIR / f"load-{machine_slug()}.json", data)
    console.print(f"wrote {path}")
