"""``roboos run "<instruction>"``: the whole system in one command — cloud master, control plane and the
simulated edge robots — plans the instruction, shows the plan and each step live, exits with the outcome.

Exit codes: 0 the task succeeded; 1 it failed or was cancelled (the reason is printed); 2 bad
configuration or arguments; 3 the robots did not come up; 124 the ``--timeout`` passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

DEMO_INSTRUCTION = "put the screwdriver on the shelf, put the toy block in the bin and bring the apple to the dining table"
EXIT_FAILED, EXIT_CONFIG, EXIT_ROBOTS, EXIT_TIMEOUT = 1, 2, 3, 124


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    instruction: str = typer.Argument(DEMO_INSTRUCTION, help="What the robots should do, in plain English."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Cloud config YAML (default: configs/cloud.yaml)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a cloud config key, e.g. --set executor.max_replans=3 "
                                        "(repeatable)."),
    planner: Optional[str] = typer.Option(None, "--planner", "-p", help="'offline' (the offline rule-based planner, "
                                          "default) or 'llm' (an OpenAI-compatible endpoint: planner.llm.* keys)."),
    edge_config: Optional[Path] = typer.Option(None, "--edge-config", help="Edge config YAML of the simulated robots "
                                               "(default: configs/edge.yaml)."),
    edge_overrides: list[str] = typer.Option([], "--edge-set", help="Override an edge config key (repeatable)."),
    time_scale: Optional[float] = typer.Option(None, "--time-scale", help="Simulated motion time factor "
                                               "(0 = instant; default: the scene's)."),
    timeout: float = typer.Option(300.0, "--timeout", help="Give up (and cancel the task) after this many seconds."),
    no_edges: bool = typer.Option(False, "--no-edges", help="Do not start the simulated robots; use edges that "
                                  "connect on their own (then --set bind=... to a fixed address)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live table; print the final outcome only."),
) -> None:
    """Run one instruction end to end on the simulated robots and show its plan and steps live.

    Starts the cloud master (and its gRPC control plane) on free loopback ports, starts the sim edge
    robots of the edge config in a child `roboos edge` process, waits for them to register, plans the
    instruction (by default with the offline rule-based planner), dispatches the steps over ZeroMQ and
    exits 0 when the task succeeded, non-zero with the reason otherwise.
    """
    from rich.console import Console

    from roboos.channel.loop import run as run_loop
    from roboos.cli.cmd_cloud import load_cloud_or_exit

    console = Console()
    # A run is self-contained: its world and tasks live in this process (fresh sim robots, nothing to
    # resume, no clash with other runs), while its history goes to the shared history file (`roboos history`).
    cloud_overrides = ["bind=tcp://127.0.0.1:0", "control_plane.bind=127.0.0.1:0", "memory.backend=local",
                       *overrides]
    if planner is not None:
        cloud_overrides.append(f"planner.kind={planner}")
    cfg = load_cloud_or_exit(config, cloud_overrides, console)
    if cfg.memory.backend == "local" and cfg.memory.history.path is None:
        cfg.memory.history.path = cfg.memory.path
    try:
        code = run_loop(_run(console, cfg, instruction, edge_config, edge_overrides, time_scale, timeout,
                                no_edges, quiet))
    except KeyboardInterrupt:
        console.print("[magenta]interrupted[/magenta]")
        code = 130
    raise typer.Exit(code)


async def _run(console, cfg, instruction, edge_config, edge_overrides, time_scale, timeout, no_edges, quiet) -> int:  # noqa: ANN001
    import asyncio

    from rich.live import Live

    from roboos.config import ConfigError
    from roboos.controlplane.view import TaskView
    from roboos.master.launch import EdgeLaunchError, EdgeProcess, edge_robot_names, start_cloud
    from roboos.master.models import TaskStatus

    try:
        robots = [] if no_edges else edge_robot_names(edge_config, edge_overrides)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return EXIT_CONFIG
    try:
        stack = await start_cloud(cfg)
    except (RuntimeError, OSError) as exc:  # ChannelError (bind), MemoryStoreError (database / Redis), ...
        console.print(f"[red]error:[/red] cannot start the cloud: {exc}", highlight=False, soft_wrap=True)
        return EXIT_CONFIG
    master = stack.master
    edges = None
    try:
        planner_name = getattr(master.planner, "name", type(master.planner).__name__)
        console.print(f"[bold]RoboOS[/bold] cloud on {master.channel.endpoint}"
                      + (f", control plane on {stack.control_address}" if stack.control_address else "")
                      + f" — planner: [cyan]{planner_name}[/cyan]", highlight=False)
        for note in stack.notes:
            console.print(f"[dim]{note}[/dim]")
        if not no_edges:
            edges = EdgeProcess(master.channel.endpoint, config=edge_config, overrides=edge_overrides,
                                time_scale=time_scale)
            edges.start()
            try:
                await edges.wait_registered(master, robots, timeout=min(60.0, timeout))
            except EdgeLaunchError as exc:
                console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
                return EXIT_ROBOTS
            summary = ", ".join(f"{r.name} ({r.embodiment}, {len(r.skills)} skills)" for r in master.list_robots())
            console.print(f"robots online: {summary}", highlight=False)
        task_id = await master.submit(instruction)
        view = TaskView(task_id, instruction)

        async def follow() -> None:
            if quiet:
                await master.wait(task_id)
                return
            with Live(view, console=console, refresh_per_second=8, transient=False):
                async for event in master.watch(task_id):
                    view.apply(event)
            if not console.is_terminal:
                console.line()

        timed_out = False
        try:
            await asyncio.wait_for(follow(), timeout)
        except asyncio.TimeoutError:
            timed_out = True
            await master.cancel(task_id, reason=f"timed out after {timeout:g} s")
        record = master.get_task(task_id)
        if quiet:
            view.update_from_record(record)
            console.print(view)
        if record.status is TaskStatus.succeeded:
            steps = len(record.plan.steps) if record.plan else 0
            console.print(f"[green]✔ task succeeded[/green] ({steps} steps, {record.replans} replans)")
            return 0
        console.print(f"[red]✘ task {record.status.value}:[/red] {record.reason}", highlight=False)
        return EXIT_TIMEOUT if timed_out else EXIT_FAILED
    finally:
        if edges is not None:
            await edges.stop()
        await stack.stop()
