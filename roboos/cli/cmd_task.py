"""``roboos task submit|watch|cancel|list|show``: tasks on a running cloud, over the gRPC control plane.

Exit codes: 0 success (a watched task succeeded), 1 the task failed or was cancelled, 3 the control plane
could not be reached or refused the request (a message says why).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from roboos.controlplane.client import ControlClient

EXIT_TASK_FAILED = 1
EXIT_CONTROL_PLANE = 3

task_app = typer.Typer(
    help="Tasks on a running cloud (`roboos cloud` / `roboos up`): submit, watch, cancel, list.",
    no_args_is_help=True,
)

AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        "-a",
        envvar="ROBOOS_CONTROL_ADDRESS",
        show_envvar=True,
        help="host:port of the cloud's control plane [default: 127.0.0.1:7701]",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="ROBOOS_TOKEN",
        show_envvar=True,
        show_default=False,
        help="Access token, when the cloud requires one.",
    ),
]


@contextmanager
def control_client(address: str | None, token: str | None) -> Iterator[ControlClient]:
    """A connected :class:`ControlClient`; control-plane errors become a red message and exit code 3.

    TLS: set ``ROBOOS_TLS_CA`` to the CA certificate (PEM) of a cloud that serves TLS.
    """
    from roboos.controlplane.client import ControlClient
    from roboos.controlplane.errors import ControlPlaneError

    client = None
    try:
        client = ControlClient(address, token=token)
        yield client
    except ControlPlaneError as exc:
        _console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_CONTROL_PLANE) from None
    finally:
        if client is not None:
            client.close()


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


def watch_task(client: ControlClient, task_id: str) -> int:
    """Show the task until it ends; return the exit code (0 succeeded, 1 otherwise).

    On a terminal the plan and steps update in place (rich Live); piped output gets one line per event
    and the final table, which reads well in logs.
    """
    from rich.live import Live

    from roboos.controlplane.view import TaskView
    from roboos.master.models import TaskStatus

    console = _console()
    view = TaskView.from_record(client.get_task(task_id))
    if console.is_terminal:
        with Live(view, console=console, refresh_per_second=8) as live:
            for event in client.watch(task_id):
                view.apply(event)
                live.refresh()
            view.update_from_record(client.get_task(task_id))
            view.show_messages = False
            live.refresh()
    else:
        for event in client.watch(task_id):
            view.apply(event)
            if event.message:
                console.print(f"[{event.seq:>3}] {event.status.value:<9} {event.message}", highlight=False)
        view.update_from_record(client.get_task(task_id))
        view.show_messages = False
        console.print(view)
    succeeded = view.status == TaskStatus.succeeded
    console.print(
        f"task {task_id} {view.status.value if view.status else 'unknown'}"
        + (f": {view.reason}" if view.reason and not succeeded else ""),
        style="green" if succeeded else "red",
        highlight=False,
    )
    return 0 if succeeded else EXIT_TASK_FAILED


@task_app.command("submit")
def submit(
    instruction: Annotated[str, typer.Argument(help="What the robots should do, in natural language.")],
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Follow the task live until it ends.")] = False,
    task_id: Annotated[
        str | None, typer.Option("--id", help="Choose the task id (default: the cloud picks).")
    ] = None,
    address: AddressOption = None,
    token: TokenOption = None,
) -> None:
    """Submit a task; print its id (with --watch: follow it and exit 0 only if it succeeds)."""
    with control_client(address, token) as client:
        new_id = client.submit(instruction, task_id=task_id)
        if not watch:
            typer.echo(new_id)
            return
        _console().print(f"submitted task [bold cyan]{new_id}[/]")
        code = watch_task(client, new_id)
    raise typer.Exit(code)


@task_app.command("watch")
def watch(
    task_id: Annotated[
        str, typer.Argument(help="Task id (from `roboos task submit` or `roboos task list`).")
    ],
    address: AddressOption = None,
    token: TokenOption = None,
) -> None:
    """Follow a task live: its plan and each step's progress. Exit 0 if it succeeded, 1 otherwise."""
    with control_client(address, token) as client:
        code = watch_task(client, task_id)
    raise typer.Exit(code)


@task_app.command("cancel")
def cancel(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    address: AddressOption = None,
    token: TokenOption = None,
) -> None:
    """Cancel a task (running steps are stopped on the robots)."""
    with control_client(address, token) as client:
        outcome = client.cancel(task_id)
    if outcome.cancelled:
        typer.echo(f"task {task_id} cancelled")
    else:
        typer.echo(f"task {task_id} already {outcome.status.value}; nothing to cancel")


@task_app.command("list")
def list_tasks(
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="Show at most this many (0: all).")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    address: AddressOption = None,
    token: TokenOption = None,
) -> None:
    """List tasks, newest first."""
    from roboos.controlplane.view import tasks_table

    with control_client(address, token) as client:
        tasks = client.list_tasks(limit)
    if as_json:
        import json

        typer.echo(json.dumps([t.model_dump(mode="json") for t in tasks], indent=2))
    elif not tasks:
        typer.echo('no tasks yet: roboos task submit "<instruction>"')
    else:
        _console().print(tasks_table(tasks))


@task_app.command("show")
def show(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the task record as JSON.")] = False,
    address: AddressOption = None,
    token: TokenOption = None,
) -> None:
    """Show one task: status, plan and each step's outcome."""
    from roboos.controlplane.view import TaskView

    with control_client(address, token) as client:
        record = client.get_task(task_id)
    if as_json:
        typer.echo(record.model_dump_json(indent=2))
    else:
        _console().print(TaskView.from_record(record))


def register(app: typer.Typer) -> None:
    app.add_typer(task_app, name="task")
