"""``roboos history``: query the cloud's history log and replay a task's timeline; ``roboos bench memory``.

Reads the history named by the cloud config's ``memory`` section (the SQLite file by default, or Redis),
so it works while the cloud runs and after it stopped.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import typer

from roboos.cli.groups import bench_app

history_app = typer.Typer(help="The cloud's history log: recent tasks, queries, a task's timeline replayed.",
                          invoke_without_command=True)

ConfigOption = typer.Option(None, "--config", "-c", help="Cloud config YAML (default: configs/cloud.yaml).")
SetOption = typer.Option([], "--set", help="Override a cloud config key, e.g. --set memory.path=/data/cloud.db.")


def register(app: typer.Typer) -> None:
    app.add_typer(history_app, name="history")


def _open(config: Optional[Path], overrides: list[str]) -> Any:
    from rich.console import Console

    from roboos.cli.cmd_cloud import load_cloud_or_exit
    from roboos.memory import MemoryStoreError, open_history

    console = Console(stderr=True)
    cfg = load_cloud_or_exit(config, overrides, console)
    if cfg.memory.backend == "local" and cfg.memory.history.path is None:
        console.print("[red]error:[/red] memory.backend=local keeps no history outside the cloud process")
        raise typer.Exit(2)
    if cfg.memory.backend != "redis":
        path = Path(cfg.memory.history.path or cfg.memory.path).expanduser()
        if not path.exists():
            console.print(f"[red]error:[/red] no history at {path} (run `roboos run`, `roboos cloud` or "
                          "`roboos up` first, or --set memory.path=...)", highlight=False)
            raise typer.Exit(1)
    try:
        return open_history(cfg.memory)
    except MemoryStoreError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


def parse_time(text: Optional[str]) -> Optional[float]:
    """``1700000000``, an ISO date/time, or an age like ``90s``, ``10m``, ``2h``, ``1d`` (ago)."""
    if text is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1:] in units and text[:-1].replace(".", "", 1).isdigit():
            return time.time() - float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a time (epoch seconds, ISO date/time, or 10m / 2h / 1d ago)") from None


def summary(entry: Any) -> str:
    """One line describing an entry."""
    data = entry.data if isinstance(entry.data, dict) else {}
    if data.get("message"):
        return str(data["message"])
    if entry.kind == "robot.state":
        parts = [str(data.get("status", ""))]
        if data.get("location"):
            parts.append(f"at {data['location']}")
        if data.get("holding"):
            parts.append(f"holding {data['holding']}")
        return " ".join(p for p in parts if p)
    text = json.dumps(data, separators=(",", ":"), default=str)
    return text if len(text) <= 100 else text[:99] + "…"


def _table(entries: list[Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, show_edge=False)
    for column in ("seq", "time", "kind", "task", "robot", "what"):
        table.add_column(column, no_wrap=column != "what")
    for e in entries:
        stamp = datetime.fromtimestamp(e.ts).strftime("%m-%d %H:%M:%S.%f")[:-3]
        blobs = f" [{', '.join(e.blobs)}]" if e.blobs else ""
        table.add_row(str(e.seq), stamp, e.kind, e.task, e.robot, summary(e) + blobs)
    return table


@history_app.callback()
def history(ctx: typer.Context, config: Optional[Path] = ConfigOption, overrides: list[str] = SetOption,
            limit: int = typer.Option(20, "--limit", "-n", help="How many tasks.")) -> None:
    """Without a subcommand: the most recent tasks (id, final status, instruction)."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    log = _open(config, overrides)
    try:
        accepted = log.query(kind="task.status", newest_first=True, limit=5000)
    finally:
        log.close()
    tasks: dict[str, dict[str, Any]] = {}
    for e in accepted:  # newest first: the first status seen per task is its latest
        info = tasks.setdefault(e.task, {"status": e.data.get("status"), "ts": e.ts, "instruction": ""})
        msg = str(e.data.get("message", ""))
        if msg.startswith("task accepted: "):
            info["instruction"], info["created"] = msg[len("task accepted: "):], e.ts
    table = Table(title="recent tasks (roboos history replay <id>)", show_edge=False)
    for column in ("task", "status", "started", "instruction"):
        table.add_column(column, no_wrap=column != "instruction")
    rows = sorted(tasks.items(), key=lambda kv: kv[1].get("created", kv[1]["ts"]), reverse=True)[:limit]
    for task_id, info in rows:
        started = datetime.fromtimestamp(info.get("created", info["ts"])).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(task_id, str(info["status"]), started, info["instruction"])
    Console().print(table)


@history_app.command("query")
def query(
    config: Optional[Path] = ConfigOption,
    overrides: list[str] = SetOption,
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Only this task."),
    robot: Optional[str] = typer.Option(None, "--robot", "-r", help="Only this robot."),
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help="Only this kind (task.step, robot.state, ...)."),
    after: int = typer.Option(0, "--after", help="Only entries with a sequence number above this."),
    since: Optional[str] = typer.Option(None, "--since", help="From this time (epoch, ISO, or 10m/2h/1d ago)."),
    until: Optional[str] = typer.Option(None, "--until", help="Before this time."),
    seq: Optional[int] = typer.Option(None, "--seq", help="Just the entry with this sequence number (full JSON)."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many entries."),
    newest: bool = typer.Option(False, "--newest", help="Newest first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Entries of the history log filtered by task, robot, kind, sequence and time."""
    from rich.console import Console

    log = _open(config, overrides)
    try:
        if seq is not None:
            entry = log.get(seq)
            if entry is None:
                Console(stderr=True).print(f"[red]no entry {seq}[/red] (last: {log.last_seq()})")
                raise typer.Exit(1)
            typer.echo(json.dumps(entry.as_dict(), indent=2, default=str))
            return
        entries = log.query(task=task, robot=robot, kind=kind, after_seq=after, start_ts=parse_time(since),
                            end_ts=parse_time(until), limit=limit, newest_first=newest)
        if as_json:
            for entry in entries:
                typer.echo(json.dumps(entry.as_dict(), separators=(",", ":"), default=str))
        else:
            Console().print(_table(entries, f"history: {len(entries)} entries (of {log.count()}, last seq {log.last_seq()})"))
    finally:
        log.close()


@history_app.command("replay")
def replay(
    task_id: str = typer.Argument(..., help="The task to replay."),
    config: Optional[Path] = ConfigOption,
    overrides: list[str] = SetOption,
    speed: float = typer.Option(0.0, "--speed", help="Replay at this multiple of real time (0: at once)."),
) -> None:
    """Replay a task's timeline: its plan and steps change in the live table as they did (from the history)."""
    from rich.console import Console
    from rich.live import Live

    from roboos.controlplane.view import TaskView
    from roboos.master.models import TaskEvent

    log = _open(config, overrides)
    try:
        entries = [e for e in log.query(task=task_id, limit=100_000) if e.kind.startswith("task.")]
    finally:
        log.close()
    console = Console()
    if not entries:
        console.print(f"[red]no history for task '{task_id}'[/red] (see `roboos history`)")
        raise typer.Exit(1)
    events = [TaskEvent.model_validate(e.data) for e in entries]
    first = events[0].message
    view = TaskView(task_id, first[len("task accepted: "):] if first.startswith("task accepted: ") else "")
    with Live(view, console=console, refresh_per_second=10, transient=False) as live:
        for prev, event in zip([None, *events[:-1]], events):
            if speed > 0 and prev is not None:
                time.sleep(min(5.0, max(0.0, event.ts - prev.ts) / speed))
            view.apply(event)
            live.refresh()
    if not console.is_terminal:
        console.line()
    total = events[-1].ts - events[0].ts
    console.print(f"{len(events)} events over {total:.2f} s; final status: {events[-1].status.value}")


@history_app.command("prune")
def prune(
    config: Optional[Path] = ConfigOption,
    overrides: list[str] = SetOption,
    max_entries: Optional[int] = typer.Option(None, "--max-entries", help="Keep at most this many (newest)."),
    older_than: Optional[str] = typer.Option(None, "--older-than", help="Drop entries older than this age (10m/2h/7d)."),
) -> None:
    """Apply retention now (the cloud also does it every memory.history.prune_every appends)."""
    log = _open(config, overrides)
    try:
        cutoff = parse_time(older_than)
        removed = log.prune(max_entries=max_entries, max_age_s=(time.time() - cutoff) if cutoff else None)
        typer.echo(f"removed {removed} entries; {log.count()} left")
    finally:
        log.close()


@bench_app.command("memory")
def bench_memory(
    entries: int = typer.Option(1_000_000, "--entries", help="History entries to append per backend."),
    robots: int = typer.Option(100, "--robots", help="Concurrent robots updating their state."),
    updates: int = typer.Option(200, "--updates", help="State updates per robot."),
    backends: str = typer.Option("sqlite,redis", "--backends", help="Comma-separated: sqlite, redis, local."),
    redis_url: Optional[str] = typer.Option(None, "--redis-url", help="Use this Redis (default: start a "
                                            "redis-server on a free loopback port for the run)."),
    out: Optional[Path] = typer.Option(None, "--out", help="JSON result file (default: benchmarks/results/"
                                       "memory-<machine>.json)."),
) -> None:
    """History append rate and random-access latency at 1M entries, memory update latency with 100
    concurrent robots — SQLite (WAL) and Redis. Prints a table and writes JSON."""
    from roboos.memory.bench import run_bench

    command = (f"roboos bench memory --entries {entries} --robots {robots} --updates {updates} --backends {backends}"
               + (f" --redis-url {redis_url}" if redis_url else "") + (f" --out {out}" if out else ""))
    run_bench(entries=entries, robots=robots, updates=updates, backends=[b.strip() for b in backends.split(",") if b.strip()],
              redis_url=redis_url, out=out, command=command)
