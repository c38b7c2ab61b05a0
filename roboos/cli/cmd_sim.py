"""``roboos sim …``: competition runs, leaderboards and scene pictures; ``roboos bench sim``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from roboos.cli.groups import bench_app

sim_app = typer.Typer(help="MuJoCo simulation: task suites, competition runs, leaderboards, pictures.",
                      no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")


def _seeds(seeds: int, seed_list: Optional[str]) -> list[int]:
    if seed_list:
        return [int(s) for s in seed_list.split(",") if s.strip()]
    return list(range(seeds))


@sim_app.command("run")
def run(
    suite: str = typer.Option("standard", "--suite", "-s", help="Suite name (sim/tasks/suites/) or YAML path."),
    agent: str = typer.Option("roboos", "--agent", "-a", help="'roboos' (planner -> skills) or 'policy' (a VLA "
                              "served over openpi websocket / RoboOS ZeroMQ)."),
    seeds: int = typer.Option(3, "--seeds", "-n", help="Seeds 0..N-1 per task."),
    seed_list: Optional[str] = typer.Option(None, "--seed-list", help="Explicit seeds, e.g. 3,7,11."),
    workers: int = typer.Option(2, "--workers", "-w", help="Worker processes."),
    out: Path = typer.Option(Path("results/sim/run"), "--out", "-o", help="Output directory of this run."),
    name: Optional[str] = typer.Option(None, "--name", help="Submission name on the leaderboard."),
    tier: list[int] = typer.Option([], "--tier", help="Only these tiers (repeatable)."),
    task: list[str] = typer.Option([], "--task", "-t", help="Only these tasks (repeatable)."),
    planner: str = typer.Option("offline", "--planner", help="roboos agent: offline | llm."),
    cloud_set: list[str] = typer.Option([], "--cloud-set", help="roboos agent: cloud config override, e.g. "
                                        "planner.llm.base_url=http://127.0.0.1:8000/v1 (repeatable)."),
    policy: Optional[str] = typer.Option(None, "--policy", help="policy agent: ws://host:port (openpi) or "
                                         "tcp://host:port (RoboOS ZeroMQ policy server)."),
    gif: bool = typer.Option(False, "--gif", help="Also save an animated GIF per episode."),
    episode_timeout: float = typer.Option(300.0, "--episode-timeout", help="Wall-clock limit per episode (s)."),
) -> None:
    """Run a suite: every task x seed as an episode in worker processes; writes JSON and key frames."""
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from roboos.sim.competition.runner import RunConfig, run_suite

    console = Console()
    options: dict = {}
    if agent == "roboos":
        options = {"planner": planner, "cloud_overrides": list(cloud_set)}
    elif agent == "policy":
        if not policy:
            console.print("[red]--agent policy needs --policy ws://host:port or tcp://host:port[/red]")
            raise typer.Exit(2)
        options = {"endpoint": policy}
    else:
        console.print(f"[red]unknown agent '{agent}' (roboos or policy)[/red]")
        raise typer.Exit(2)
    config = RunConfig(suite=suite, agent=agent, seeds=_seeds(seeds, seed_list), workers=workers, out_dir=str(out),
                       name=name or "", tiers=list(tier), tasks=list(task), gif=gif, episode_timeout_s=episode_timeout,
                       agent_options=options, command="roboos " + " ".join(sys.argv[1:]))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[last]}"), console=console) as progress:
        bar = progress.add_task(f"{suite} / {agent}", total=None, last="")

        def on_result(result: dict, done: int, total: int) -> None:
            mark = "[green]✔[/green]" if result["success"] else "[red]✘[/red]"
            progress.update(bar, completed=done, total=total,
                            last=f"{mark} {result['task']} seed {result['seed']} ({result['wall_s']:.1f} s)")

        try:
            summary = run_suite(config, on_result)
        except (KeyError, ValueError) as exc:
            console.print(f"[red]{exc.args[0] if isinstance(exc, KeyError) else exc}[/red]")
            raise typer.Exit(2) from None
    _print_summary(console, summary, out)


def _print_summary(console: object, summary: dict, out: Path) -> None:
    from rich.table import Table

    table = Table(title=f"{summary['name']} on {summary['suite']}")
    for col in ("task", "tier", "success", "episodes", "crashes", "sim s", "wall s", "tokens"):
        table.add_column(col, justify="right" if col not in ("task",) else "left")
    for name, t in summary["tasks"].items():
        table.add_row(name, str(t["tier"]), f"{t['success_rate']:.0%}", str(t["episodes"]), str(t["crashes"]),
                      f"{t['mean_sim_time_s']:.1f}", f"{t['mean_wall_s']:.1f}", str(t["tokens"]))
    o = summary["overall"]
    table.add_row("[bold]suite[/bold]", "", f"[bold]{o['success_rate']:.1%}[/bold]", str(o["episodes"]),
                  str(o["crashes"]), f"{o['mean_sim_time_s']:.1f}", f"{o['mean_wall_s']:.1f}", str(o["tokens"]))
    console.print(table)  # type: ignore[attr-defined]
    console.print(f"{summary['episodes_per_min']:.1f} episodes/min, {summary['sim_steps_per_s']:.0f} sim steps/s "  # type: ignore[attr-defined]
                  f"({summary['workers']} workers); results in {out}")


@sim_app.command("leaderboard")
def leaderboard(
    runs: list[Path] = typer.Argument(..., help="Run directories written by 'roboos sim run'."),
    out: Path = typer.Option(Path("results/sim/leaderboard"), "--out", "-o", help="Output directory."),
) -> None:
    """Rank runs by success rate (then tokens, then sim time): Markdown, CSV and static HTML with key frames."""
    from rich.console import Console

    from roboos.sim.competition.leaderboard import load_runs, to_markdown, write_leaderboard

    console = Console()
    try:
        paths = write_leaderboard(list(runs), out)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(to_markdown(load_runs(list(runs))))
    console.print("written: " + ", ".join(str(p) for p in paths.values()))


@sim_app.command("view")
def view(
    scene: str = typer.Option("household", "--scene", help="tabletop | household (ignored with --task)."),
    task: Optional[str] = typer.Option(None, "--task", help="Render a task's episode: SUITE/TASK, e.g. "
                                       "standard/relay_to_bin."),
    seed: int = typer.Option(0, "--seed"),
    camera: Optional[str] = typer.Option(None, "--camera", help="Camera name (default: overview)."),
    width: int = typer.Option(640, "--width"),
    height: int = typer.Option(480, "--height"),
    out: Path = typer.Option(Path("scene.png"), "--out", "-o"),
) -> None:
    """Render a scene (or a task's starting state) to a PNG, headless."""
    import imageio.v3 as iio
    import numpy as np
    from rich.console import Console

    console = Console()
    if task:
        from roboos.sim.tasks.build import build_world
        from roboos.sim.tasks.spec import load_suite, sample_episode

        suite_name, _, task_name = task.partition("/")
        try:
            episode = sample_episode(load_suite(suite_name).task(task_name), seed)
        except KeyError as exc:
            console.print(f"[red]{exc.args[0]}[/red]")
            raise typer.Exit(2) from None
        world, _ = build_world(episode)
        console.print(f"“{episode.instruction}”")
    else:
        from roboos.sim.mujoco.scenes import LAYOUTS
        from roboos.sim.mujoco.world import MujocoWorld

        if scene not in LAYOUTS:
            console.print(f"[red]unknown scene '{scene}'; scenes: {', '.join(LAYOUTS)}[/red]")
            raise typer.Exit(2)
        world = MujocoWorld(scene, [])
        world.settle(0.2)
    try:
        image = world.render(camera, width, height)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        world.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out, np.asarray(image))
    console.print(f"wrote {out} ({width}x{height})")


@sim_app.command("tasks")
def tasks(suite: str = typer.Option("standard", "--suite", "-s")) -> None:
    """List a suite's tasks with tiers and an example instruction."""
    from rich.console import Console
    from rich.table import Table

    from roboos.sim.tasks.spec import load_suite, sample_episode

    spec = load_suite(suite)
    table = Table(title=f"suite {spec.name}: {spec.description}")
    for col in ("task", "tier", "scene", "example instruction (seed 0)", "limit s"):
        table.add_column(col)
    for t in spec.tasks:
        table.add_row(t.name, str(t.tier), t.scene, sample_episode(t, 0).instruction, f"{t.time_limit_s:g}")
    Console().print(table)


@bench_app.command("sim")
def bench_sim(
    seeds: int = typer.Option(5, "--seeds", help="Seeds per task for the suite run."),
    workers: int = typer.Option(2, "--workers"),
    suite: str = typer.Option("standard", "--suite"),
    out: Path = typer.Option(Path("benchmarks/results"), "--out", help="Directory of the JSON result."),
    machine: Optional[str] = typer.Option(None, "--machine", help="Machine name in the file name "
                                          "(default: the host name)."),
) -> None:
    """Episodes/min of the RoboOS agent on a full suite, and raw sim steps/s per worker."""
    from roboos.sim.competition.bench import run_bench

    run_bench(suite=suite, seeds=seeds, workers=workers, out_dir=out, machine_name=machine)
