"""The `bifrost` command: one sub-module per command group.

``server`` runs the system (its heavy imports happen inside each command); ``files``, ``run`` and
``packages`` are clients of the HTTP API through :mod:`bifrost.cli.client`, which loads no server
code, so they start fast.
"""

from __future__ import annotations

import typer

from bifrost.cli import files, packages, run, server

app = typer.Typer(
    help="Bifrost: Python automation whose code lives in a database.", no_args_is_help=True
)
app.add_typer(files.app, name="files")
app.add_typer(packages.app, name="packages")
for command in (server.init, server.up, server.api, server.worker, server.export):
    app.command()(command)
app.command()(run.run)
