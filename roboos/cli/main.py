"""Entry point of the ``roboos`` console script.

Commands live in ``roboos/cli/cmd_*.py`` modules, each exposing ``register(app: typer.Typer)``; they are
discovered here so areas stay independent. Heavy libraries are imported inside command functions only,
so ``roboos --help`` and the edge agent start fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

import roboos.cli as cli_pkg
from roboos.cli.groups import bench_app, serve_app, tune_app

app = typer.Typer(
    name="roboos",
    help="RoboOS: embodied-AI cloud-edge robotics runtime (brain in the cloud, cerebellum on the edge).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(bench_app, name="bench")
app.add_typer(serve_app, name="serve")
app.add_typer(tune_app, name="tune")


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"roboos.cli.{info.name}")
            module.register(app)


_register_all()


@app.command()
def version() -> None:
    """Print the RoboOS version."""
    from roboos import __version__

    typer.echo(__version__)


def main() -> None:
    """Run the CLI."""
    app()


if __name__ == "__main__":
    main()
