"""``roboos robots``: the robots a running cloud knows, over the gRPC control plane."""

from __future__ import annotations

from typing import Annotated

import typer

from roboos.cli.cmd_task import AddressOption, TokenOption, control_client


def robots(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (with skills, state and profile).")
    ] = False,
    address: AddressOption = None,
    token: TokenOption = None,
) -> None:
    """Who is connected: embodiment, online, heartbeat age, state summary and number of skills."""
    from rich.console import Console

    from roboos.controlplane.view import robots_table

    with control_client(address, token) as client:
        infos = client.robots()
    if as_json:
        import json

        typer.echo(json.dumps([r.model_dump(mode="json") for r in infos], indent=2))
    elif not infos:
        typer.echo("no robots have registered yet: start edge agents with `roboos edge` (or `roboos up`)")
    else:
        Console().print(robots_table(infos))


def register(app: typer.Typer) -> None:
    app.command("robots")(robots)
