"""``roboos deploy``: build a verified edge bundle for one robot and hardware profile (and start it)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)


def deploy(
    edge: str = typer.Option(..., "--edge", help="Hardware profile name (roboos profiles list) or YAML file."),
    robot: str = typer.Option(..., "--robot", help="Robot of the edge config to deploy."),
    cloud: Optional[str] = typer.Option(None, "--cloud", help="Cloud endpoint, e.g. tcp://10.0.0.5:7700 "
                                        "(default: the edge config's)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Bundle folder (default bundles/<robot>-<profile>)."),
    start: bool = typer.Option(False, "--start", help="Launch the agent from the bundle and wait until it has "
                               "registered with the cloud."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Edge config YAML holding the robot."),
    overrides: list[str] = typer.Option([], "--set", help="Override an edge config key (repeatable)."),
    key_dir: Optional[str] = typer.Option(None, "--key-dir", help="The cloud's key store (default ~/.roboos/keys "
                                          "or $ROBOOS_KEYS): the robot's public key is allow-listed there."),
    models: Optional[str] = typer.Option(None, "--models", help="Comma list of local models, 'none' for none "
                                         "(default: the profile's local_models)."),
    precision: Optional[str] = typer.Option(None, "--precision", help="fp32|fp16|bf16|int8 (default: profile's)."),
    checkpoint: Optional[str] = typer.Option(None, "--checkpoint", help="π0 checkpoint folder for the exported "
                                             "models (default: tiny random weights, for offline trials)."),
    secure: Optional[bool] = typer.Option(None, "--secure/--insecure", help="CURVE on the link (default: on "
                                          "unless the cloud is on loopback)."),
    install_dir: Optional[str] = typer.Option(None, "--install-dir", help="Bundle location on the robot, for "
                                              "the systemd unit (default /opt/roboos/<robot>)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing bundle folder."),
    start_timeout: float = typer.Option(60.0, "--start-timeout", help="Seconds to wait for registration."),
    skill_store: Optional[str] = typer.Option(None, "--skill-store", help="Skill-store file to install "
                                              "--package skill packages from (roboos skills publish)."),
    packages: list[str] = typer.Option([], "--package", help="Skill package (name or name==version) from the "
                                       "store, installed into the bundle and loaded by the robot (repeatable)."),
) -> None:
    """Resolve the profile, collect the robot's skills, export and verify its local models, create and
    allow-list its CURVE keys, and write a self-contained bundle with a manifest (SHA-256 of every file),
    a launcher and a systemd unit. Run a bundle with `roboos edge --bundle DIR`."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from roboos.config import ConfigError
    from roboos.edge.deploy.deploy import STEPS, DeployError, DeployOptions, start_bundle
    from roboos.edge.deploy.deploy import deploy as run_deploy

    console = Console()
    names = None if models is None else [m.strip() for m in models.split(",") if m.strip() and m.strip() != "none"]
    opts = DeployOptions(profile=edge, robot=robot, cloud=cloud, out=out, config=config, overrides=tuple(overrides),
                         key_dir=key_dir, models=names, precision=precision, checkpoint=checkpoint, secure=secure,
                         install_dir=install_dir, force=force, skill_store=skill_store,
                         packages=tuple(packages))
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as bar:
            task = bar.add_task("deploy", total=len(STEPS))
            done: set[str] = set()

            def step(name: str, message: str) -> None:
                if name not in done:
                    done.add(name)
                    bar.update(task, completed=STEPS.index(name))
                bar.update(task, description=f"[bold]{name}[/]: {message}")

            result = run_deploy(opts, step)
            bar.update(task, completed=len(STEPS), description="bundle written and verified")
    except (DeployError, ConfigError, ValueError) as exc:
        console.print(f"[red]deploy failed:[/] {exc}")
        raise typer.Exit(2) from None
    except KeyError as exc:
        console.print(f"[red]deploy failed:[/] {exc.args[0]}")
        raise typer.Exit(2) from None
    m = result.manifest
    table = Table(title=f"bundle {result.bundle}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("robot", f"{m.robot} ({m.kind})")
    table.add_row("profile", f"{m.profile}: {result.profile.description}")
    table.add_row("cloud", f"{m.cloud} ({'CURVE' if result.secure else 'plain, loopback'})")
    table.add_row("precision / providers", f"{m.precision} / {' → '.join(m.providers)}")
    for rep in m.models:
        table.add_row(f"model {rep['name']}", f"{rep['file']}: rel. error {rep['relative_l2_error']:.2e} "
                                              f"≤ {rep['tolerance']:g} ({rep['bytes'] / 1e6:.1f} MB)")
    table.add_row("files", f"{len(m.files)} (SHA-256 in manifest.json)")
    for note in result.notes:
        table.add_row("note", note)
    console.print(table)
    if start:
        console.print("starting the edge agent from the bundle…")
        try:
            proc = start_bundle(result.bundle, timeout=start_timeout)
        except DeployError as exc:
            console.print(f"[red]start failed:[/] {exc}")
            raise typer.Exit(3) from None
        console.print(f"[green]{robot} registered with {m.cloud}[/] (pid {proc.pid}, log {result.bundle}/var/edge.log)")
    else:
        console.print(f"run it with: [bold]{result.bundle}/run.sh[/] or roboos edge --bundle {result.bundle}")
