"""`bifrost init|up|api|worker|scheduler|export`: the commands that run the system.

Server code (SQLAlchemy, SAQ, uvicorn, the app, even asyncio) is imported inside each command,
so the client commands that share the `bifrost` entry point never load it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

if TYPE_CHECKING:
    from bifrost.roles.process import RoleName
    from bifrost.settings import Settings

console = Console()
err = Console(stderr=True)
host_option = click.option("--host", help="Address to listen on.")
port_option = click.option("--port", type=int, help="Port to listen on.")


def server_settings() -> Settings:
    """The server's settings; bad BIFROST_* values are refused with their messages, before
    anything starts (only here: the client commands never load pydantic)."""
    from pydantic import ValidationError

    from bifrost.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        for problem in exc.errors():
            name = "BIFROST_" + "_".join(str(part) for part in problem["loc"]).upper()
            err.print(f"[red]{name}[/]: {problem['msg'].removeprefix('Value error, ')}")
        raise SystemExit(2) from None


def _setup_logging() -> None:
    """Log to stderr, every record scrubbed of secrets (bifrost.secrets.RedactSecrets)."""
    import logging

    from bifrost.secrets import RedactSecrets

    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # SAQ logs three INFO lines per task (enqueuing, processing, finished): for executions that
    # is three scrubbed, written lines per run, and the executions table records every run.
    logging.getLogger("saq").setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())


def _init(settings: Settings) -> None:
    import asyncio

    from bifrost.init import initialize

    report = asyncio.run(initialize(settings))
    console.print(f"[green]database ready[/] (workspace generation {report.generation})")
    if report.new_admin_token:
        _announce_token(report.new_admin_token, report.token_file)


def _announce_token(token: str, path: Path | None) -> None:
    """Show a new admin token only to the person at the terminal: stdout and stderr are often
    a log (journald, docker logs), and a token in a log is a leaked token."""
    import logging
    import sys

    if sys.stderr.isatty():  # no highlighting: it would colour the "0x" inside a token
        err.print(f"[bold]admin token[/] (shown once; saved to {path}):", highlight=False)
        err.print(f"  {token}", highlight=False, markup=False)
    logging.getLogger("bifrost.cli").info(
        "a new admin token was saved to %s (readable by this account only)", path
    )


def _serve(
    settings: Settings, host: str | None, port: int | None, roles: Sequence[RoleName]
) -> None:
    import uvicorn

    from bifrost.api.logs import redact_server_logs
    from bifrost.roles.api import http_app

    server = uvicorn.Server(
        uvicorn.Config(
            http_app(settings, roles),
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            access_log=False,
            loop="uvloop",  # named, not "auto": a missing one fails here instead of slowing down
            http="httptools",
            ws_max_size=settings.max_request_bytes,
        )
    )
    redact_server_logs()
    server.run()


def _headless(settings: Settings, role: RoleName) -> None:
    if settings.embedded:
        err.print(
            f"[red]bifrost {role} needs BIFROST_REDIS_URL[/]: in embedded mode `bifrost up` "
            f"runs the {role} inside the API process."
        )
        raise SystemExit(2)
    import asyncio

    from bifrost.roles.process import run_headless

    asyncio.run(run_headless(settings, [role]))


@click.command()
def init() -> None:
    """Run database migrations, make sure an admin token exists and warm the cache."""
    _setup_logging()
    _init(server_settings())


@click.command()
@host_option
@port_option
def up(host: str | None, port: int | None) -> None:
    """Init, then serve the API with a worker and a scheduler in the same process (the
    one-machine setup)."""
    _setup_logging()
    settings = server_settings()
    _init(settings)
    _serve(settings, host, port, ("api", "worker", "scheduler"))


@click.command()
@host_option
@port_option
def api(host: str | None, port: int | None) -> None:
    """Serve the API only; executions and jobs go to `bifrost worker` and `bifrost scheduler`
    processes through Redis (in embedded mode this process runs them too)."""
    _setup_logging()
    settings = server_settings()
    roles: tuple[RoleName, ...] = ("api",)
    if settings.embedded:
        roles = ("api", "worker", "scheduler")
    _serve(settings, host, port, roles)


@click.command()
def worker() -> None:
    """Run executions taken from the Redis queue (needs BIFROST_REDIS_URL)."""
    _setup_logging()
    _headless(server_settings(), "worker")


@click.command()
def scheduler() -> None:
    """Run jobs (package installs and removals) taken from the Redis queue (needs
    BIFROST_REDIS_URL)."""
    _setup_logging()
    _headless(server_settings(), "scheduler")


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
def export(directory: Path) -> None:
    """Write the workspace out to DIRECTORY (for BIFROST_VIRTUAL_IMPORTS=false rollbacks)."""
    import asyncio

    from bifrost.export import export_workspace

    count = asyncio.run(export_workspace(server_settings(), directory))
    console.print(f"wrote {count} files to {directory}")
