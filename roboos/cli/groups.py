"""Command groups shared by several areas (``roboos bench …``, ``roboos serve …``, ``roboos tune …``).

An area module adds its own subcommand to a group, e.g. ``@bench_app.command("channel")``, so no area
edits another area's file.
"""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks: print a table and write JSON under benchmarks/results/.",
                        no_args_is_help=True)
serve_app = typer.Typer(help="Model servers: the RoboBrain VLM and VLA policies.", no_args_is_help=True)
tune_app = typer.Typer(help="Offline tuning: kernel config tables and serving parameters.", no_args_is_help=True)
