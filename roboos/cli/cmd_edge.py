"""``roboos edge``: run the edge agents of one config (one or several robots) until Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("edge")(edge)


def edge(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Edge config YAML (default: configs/edge.yaml)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a config key, e.g. --set state_rate_hz=10 "
                                        "or --set robots.1.options.speed_m_s=2 (repeatable)."),
    cloud: Optional[str] = typer.Option(None, "--cloud", help="Cloud endpoint, e.g. tcp://10.0.0.5:7700."),
    robot: list[str] = typer.Option([], "--robot", "-r", help="Run only this robot of the config (repeatable)."),
    time_scale: Optional[float] = typer.Option(None, "--time-scale", help="Simulated motion time factor "
                                               "(0 = instant)."),
    list_kinds: bool = typer.Option(False, "--list-kinds", help="List the registered robot kinds and exit."),
    bundle: Optional[Path] = typer.Option(None, "--bundle", help="Run a `roboos deploy` bundle (verified first; "
                                          "a tampered or incomplete bundle is refused)."),
    log_level: str = typer.Option("INFO", "--log-level", help="Python logging level."),
) -> None:
    """Run edge agents: connect each configured robot to the cloud, serve its skills, stream its state.

    Runs until Ctrl-C or SIGTERM, then stops every robot, says BYE to the cloud and exits 0.
    Robots of a simulated world in one process share that world.
    """
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    from roboos.channel.loop import run as run_loop
    from roboos.config import ConfigError
    from roboos.edge.config import load_edge_config
    from roboos.edge.robots import robot_kinds

    console = Console(stderr=True)
    if list_kinds:
        _print_kinds(console, robot_kinds())
        return
    logging.basicConfig(level=log_level.upper(), format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])
    sets = list(overrides)
    if cloud:
        sets.append(f"cloud={cloud}")
    if time_scale is not None:
        sets.append(f"time_scale={time_scale}")
    bundle_cfg = None
    if bundle is not None:  # a deploy bundle: verified file by file before anything runs
        from roboos.edge.deploy import BundleError, load_bundle_config

        try:
            bundle_cfg = load_bundle_config(bundle, sets)
        except BundleError as exc:
            console.print(f"[red]bundle refused:[/] {exc}")
            raise typer.Exit(3) from None
        except ConfigError as exc:
            console.print(f"[red]config error:[/] {exc}")
            raise typer.Exit(2) from None
    try:
        cfg = bundle_cfg if bundle is not None else load_edge_config(config, sets)
        from roboos.edge.runner import build_agents, run_agents, select_robots

        cfg = select_robots(cfg, robot)
        agents = build_agents(cfg)
    except ConfigError as exc:
        console.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(2) from None
    except (KeyError, ValueError, RuntimeError) as exc:
        console.print(f"[red]error:[/] {exc.args[0] if isinstance(exc, KeyError) else exc}")
        raise typer.Exit(2) from None

    def started(agents_: object) -> None:
        _print_agents(console, agents, cfg.cloud)

    run_loop(run_agents(agents, on_started=started))
    console.print("[green]edge agents stopped[/]")


def _print_agents(console: object, agents: list, cloud: str) -> None:
    from rich.table import Table

    table = Table(title=f"RoboOS edge -> {cloud}")
    for col in ("robot", "kind", "embodiment", "skills", "state Hz"):
        table.add_column(col)
    for agent in agents:
        profile = agent.robot.profile()
        table.add_row(agent.name, str(profile.get("kind", "")), agent.robot.embodiment,
                      ", ".join(agent.registry.names()), f"{agent.state_rate_hz:g}")
    console.print(table)  # type: ignore[attr-defined]
    console.print("serving; Ctrl-C to stop")  # type: ignore[attr-defined]


def _print_kinds(console: object, kinds: dict) -> None:
    from rich.table import Table

    table = Table(title="robot kinds")
    for col in ("kind", "embodiment", "world", "description"):
        table.add_column(col)
    from rich.markup import escape

    for name, kind in sorted(kinds.items()):
        table.add_row(name, kind.embodiment, kind.world or "", escape(kind.description))
    console.print(table)  # type: ignore[attr-defined]
