"""``roboos cloud`` (master + control plane until Ctrl-C) and ``roboos up`` (cloud + sim edges until Ctrl-C)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

EXIT_CONFIG = 2


def register(app: typer.Typer) -> None:
    app.command("cloud")(cloud)
    app.command("up")(up)


def load_cloud_or_exit(config: Optional[Path], overrides: list[str], console: Any) -> Any:
    """Load the cloud config; a bad file or override prints the file/key/problem and exits 2."""
    from roboos.config import ConfigError
    from roboos.master.config import load_cloud_config
    from roboos.master.master import load_cloud_scene

    try:
        cfg = load_cloud_config(config, overrides)
        load_cloud_scene(cfg)  # a bad scene file is a config error too, reported before anything starts
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG) from None
    return cfg


ConfigOption = typer.Option(None, "--config", "-c", help="Cloud config YAML (default: configs/cloud.yaml).")
SetOption = typer.Option([], "--set", help="Override a cloud config key, e.g. --set bind=tcp://0.0.0.0:7700 (repeatable).")
PlannerOption = typer.Option(None, "--planner", "-p", help="'offline' (rule-based, default) or 'llm'.")


def cloud(
    config: Optional[Path] = ConfigOption,
    overrides: list[str] = SetOption,
    planner: Optional[str] = PlannerOption,
    log_level: str = typer.Option("INFO", "--log-level", help="Python logging level."),
) -> None:
    """Run the cloud master and its gRPC control plane until Ctrl-C.

    Edge agents connect to the ZeroMQ endpoint (`bind`); `roboos task submit|watch|cancel` and
    `roboos robots` talk to the control plane (`control_plane.bind`).
    """
    _serve(config, overrides, planner, log_level, with_edges=False)


def up(
    config: Optional[Path] = ConfigOption,
    overrides: list[str] = SetOption,
    planner: Optional[str] = PlannerOption,
    edge_config: Optional[Path] = typer.Option(None, "--edge-config", help="Edge config YAML (default: configs/edge.yaml)."),
    edge_overrides: list[str] = typer.Option([], "--edge-set", help="Override an edge config key (repeatable)."),
    time_scale: Optional[float] = typer.Option(None, "--time-scale", help="Simulated motion time factor (0 = instant)."),
    log_level: str = typer.Option("INFO", "--log-level", help="Python logging level."),
) -> None:
    """Run the cloud (master + control plane) and the simulated edge robots until Ctrl-C.

    Then submit work from another terminal: `roboos task submit "put the apple in the sink" --watch`.
    """
    fresh = ["memory.reset_world=true", "memory.recovery=fail"]  # the sim robots start from the scene again
    _serve(config, fresh + list(overrides), planner, log_level, with_edges=True, edge_config=edge_config,
           edge_overrides=edge_overrides, time_scale=time_scale)


def _serve(config: Optional[Path], overrides: list[str], planner: Optional[str], log_level: str, *,
           with_edges: bool, edge_config: Optional[Path] = None, edge_overrides: list[str] | None = None,
           time_scale: float | None = None) -> None:
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    from roboos.channel.loop import run as run_loop

    console = Console()
    logging.basicConfig(level=log_level.upper(), format="%(message)s", handlers=[RichHandler(console=console)])
    overrides = list(overrides) + ([f"planner.kind={planner}"] if planner else [])
    cfg = load_cloud_or_exit(config, overrides, console)
    try:
        code = run_loop(_serve_async(console, cfg, with_edges, edge_config, list(edge_overrides or []), time_scale))
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


async def _serve_async(console: Any, cfg: Any, with_edges: bool, edge_config: Optional[Path],
                       edge_overrides: list[str], time_scale: float | None) -> int:
    import asyncio
    import contextlib
    import signal

    from roboos.channel import ChannelError
    from roboos.config import ConfigError
    from roboos.master.launch import EdgeLaunchError, EdgeProcess, edge_robot_names, start_cloud

    try:
        robots = edge_robot_names(edge_config, edge_overrides) if with_edges else []
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return EXIT_CONFIG
    try:
        stack = await start_cloud(cfg, dashboard=None, freeze_gc=True)  # None: as dashboard.enabled says
    except (ChannelError, OSError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] cannot start the cloud: {exc}", highlight=False, soft_wrap=True)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    edges = None
    try:
        master = stack.master
        console.print(f"[bold]RoboOS cloud[/bold] '{cfg.name}': edges connect to {master.channel.endpoint}; "
                      f"planner: {getattr(master.planner, 'name', '?')}", highlight=False)
        if stack.control_address:
            console.print(f"control plane (gRPC) on {stack.control_address}: roboos task submit … / roboos robots",
                          highlight=False)
        if stack.dashboard is not None:
            console.print(f"dashboard on {stack.dashboard.url}"
                          + (" (token required: open it with ?token=…)" if stack.dashboard.token else ""),
                          highlight=False)
        for note in stack.notes:
            console.print(f"[yellow]{note}[/yellow]")
        if with_edges:
            edges = EdgeProcess(master.channel.endpoint, config=edge_config, overrides=edge_overrides,
                                time_scale=time_scale)
            edges.start()
            try:
                await edges.wait_registered(master, robots)
            except EdgeLaunchError as exc:
                console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
                return 3
            console.print(f"sim robots online: {', '.join(robots)} (edge log: {edges.log_path})", highlight=False)
        console.print("[dim]Ctrl-C to stop[/dim]")
        while not stop.is_set():
            if edges is not None and not edges.alive():
                console.print(f"[red]the edge process exited[/red]; log tail:\n{edges.log_tail()}", highlight=False)
                return 3
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        console.print("stopping…")
        return 0
    finally:
        if edges is not None:
            await edges.stop()
        await stack.stop()
