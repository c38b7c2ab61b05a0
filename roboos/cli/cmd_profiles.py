"""``roboos profiles list|show``: the hardware profiles of edge modules (configs/edge + user files)."""

from __future__ import annotations

import typer

profiles_app = typer.Typer(help="Hardware profiles of edge modules (built-in and ~/.roboos/profiles).",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(profiles_app, name="profiles")


@profiles_app.command("list")
def list_cmd(
    dirs: list[str] = typer.Option([], "--dir", help="Also read profiles from this folder (repeatable)."),
) -> None:
    """List every profile with its architecture, accelerator, providers and budget."""
    from rich.console import Console
    from rich.table import Table

    from roboos.edge.profiles import list_profiles

    console = Console()
    table = Table(title="Edge hardware profiles")
    for col in ("name", "arch", "accelerator", "onnxruntime providers", "precisions", "memory", "file"):
        table.add_column(col)
    bad = 0
    for name, path, prof in list_profiles(dirs):
        if isinstance(prof, Exception):
            bad += 1
            table.add_row(name, "-", f"[red]invalid: {prof}[/red]", "", "", "", str(path))
            continue
        table.add_row(name, prof.arch, prof.accelerator, " → ".join(p.replace("ExecutionProvider", "")
                                                                    for p in prof.execution_providers),
                      ", ".join(prof.precisions), f"{prof.memory_budget_mb} MB", str(path))
    console.print(table)
    if bad:
        raise typer.Exit(1)


@profiles_app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="Profile name (or a YAML file)."),
    dirs: list[str] = typer.Option([], "--dir", help="Also read profiles from this folder (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show one profile, and which execution providers this machine's onnxruntime would use."""
    import json

    from rich.console import Console
    from rich.table import Table

    from roboos.config import ConfigError
    from roboos.edge.profiles import choose_providers, load_profile

    console = Console()
    try:
        prof = load_profile(name, dirs)
    except ConfigError as exc:
        console.print(f"[red]profile error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        chosen, note = choose_providers(prof)
    except ImportError:
        chosen, note = [], "onnxruntime is not installed here"
    if as_json:
        typer.echo(json.dumps({**prof.model_dump(), "providers_here": chosen, "providers_note": note}, indent=2))
        return
    table = Table(title=f"profile {prof.name}: {prof.description}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in prof.model_dump().items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        table.add_row(key, str(value))
    table.add_row("providers on this machine", f"{' → '.join(chosen)} ({note})")
    console.print(table)
