"""The `bifrost` command: one sub-module per command group.

``server`` runs the system and ``objects`` tends its object store (their heavy imports happen
inside each command); ``files``, ``run``, ``packages``, ``github``, ``workflows`` and ``sync``
are clients of the HTTP API through :mod:`bifrost.cli.client`, which loads no server code, so
they start fast.
"""

from __future__ import annotations

import click

from bifrost.cli import files, github, objects, packages, run, server, sync, workflows


@click.group()
def app() -> None:
    """Bifrost: Python automation whose code lives in a database."""


for command in (
    server.init,
    server.up,
    server.api,
    server.worker,
    server.scheduler,
    server.export,
    run.run,
    files.app,
    packages.app,
    github.app,
    workflows.app,
    objects.app,
    sync.sync,
):
    app.add_command(command)
