"""The `bifrost` command: run the system, and talk to its API."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bifrost.packages.cli import app as packages_app
from bifrost.settings import Settings, get_settings

if TYPE_CHECKING:
    from bifrost.roles.api import RoleName

app = typer.Typer(
    help="Bifrost: Python automation whose code lives in a database.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a traceback's locals could hold a secret
)
files_app = typer.Typer(help="Read and write workspace files.", no_args_is_help=True)
app.add_typer(files_app, name="files")
app.add_typer(packages_app, name="packages")
console = Console()
HostOption = Annotated[str | None, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on.")]
err = Console(stderr=True)
log = logging.getLogger("bifrost.cli")


@app.callback()
def _check_settings() -> None:
    """Refuse bad BIFROST_* settings with their messages, before any command runs."""
    try:
        get_settings()
    except ValidationError as exc:
        for problem in exc.errors():
            name = "BIFROST_" + "_".join(str(part) for part in problem["loc"]).upper()
            err.print(f"[red]{name}[/]: {problem['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from None


def _setup_logging() -> None:
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _init(settings: Settings) -> None:
    from bifrost.init import initialize

    report = asyncio.run(initialize(settings))
    console.print(f"[green]database ready[/] (workspace generation {report.generation})")
    if report.new_admin_token:
        _announce_token(report.new_admin_token, report.token_file)


def _announce_token(token: str, path: Path | None) -> None:
    """Show a new admin token only to the person at the terminal: stdout and stderr are often
    a log (journald, docker logs), and a token in a log is a leaked token."""
    if sys.stderr.isatty():
        err.print(f"[bold]admin token[/] (shown once; saved to {path}):\n  {token}")
    log.info("a new admin token was saved to %s (readable by this account only)", path)


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
        raise typer.Exit(2)
    from bifrost.roles.api import run_headless

    asyncio.run(run_headless(settings, [role]))


@app.command()
def init() -> None:
    """Run database migrations, make sure an admin token exists and warm the cache."""
    _setup_logging()
    _init(get_settings())


@app.command()
def up(
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """Init, then serve the API with a worker and a scheduler in the same process (the
    one-machine setup)."""
    _setup_logging()
    settings = get_settings()
    _init(settings)
    _serve(settings, host, port, ("api", "worker", "scheduler"))


@app.command()
def api(
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """Serve the API only; executions and jobs go to `bifrost worker` and `bifrost scheduler`
    processes through Redis (in embedded mode this process runs them too)."""
    _setup_logging()
    settings = get_settings()
    roles: tuple[RoleName, ...] = ("api",)
    if settings.embedded:
        roles = ("api", "worker", "scheduler")
    _serve(settings, host, port, roles)


@app.command()
def worker() -> None:
    """Run executions taken from the Redis queue (needs BIFROST_REDIS_URL)."""
    _setup_logging()
    _headless(get_settings(), "worker")


@app.command()
def scheduler() -> None:
    """Run jobs (package installs and removals) taken from the Redis queue (needs
    BIFROST_REDIS_URL)."""
    _setup_logging()
    _headless(get_settings(), "scheduler")


@app.command()
def export(directory: Path) -> None:
    """Write the workspace out to DIRECTORY (for BIFROST_VIRTUAL_IMPORTS=false rollbacks)."""
    from bifrost.export import export_workspace

    count = asyncio.run(export_workspace(get_settings(), directory))
    console.print(f"wrote {count} files to {directory}")


# ---- API client commands ---------------------------------------------------------------


def _client() -> httpx.Client:
    settings = get_settings()
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    if token is None:
        from bifrost.init import token_file

        path = token_file(settings)
        if path.exists():
            token = path.read_text().strip()
    if not token:
        err.print("[red]no token[/]: set BIFROST_ADMIN_TOKEN or run `bifrost init` on this machine")
        raise typer.Exit(2)
    base = settings.api_url or f"http://{settings.host}:{settings.port}"
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=None)


def _check(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    err.print(f"{response.status_code}: {detail}", style="red", markup=False)
    raise typer.Exit(1)


def _file_url(path: str) -> str:
    """The files API URL of a workspace path, percent-encoded: ``a?b.txt`` is a name, not a
    query, and ``100%.txt`` is not an escape."""
    return "/api/files/" + quote(path, safe="/")


def _request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        with _client() as client:
            return _check(client.request(method, url, **kwargs))
    except httpx.TransportError as exc:
        err.print(f"[red]cannot reach the API[/] ({exc}); is `bifrost up` running?")
        raise typer.Exit(1) from exc


@files_app.command("put")
def files_put(
    local: Path,
    path: Annotated[
        str | None, typer.Argument(help="Workspace path; default: LOCAL's path.")
    ] = None,
) -> None:
    """Upload LOCAL to the workspace."""
    target = path or local.as_posix()
    body = _request("PUT", _file_url(target), content=local.read_bytes()).json()
    names = ", ".join(w["name"] for w in body["workflows"])
    console.print(
        f"{body['file']['path']}: {body['file']['entity_type']}, generation {body['generation']}"
        + (f", workflows: {names}" if names else "")
    )
    if body["file"]["diagnostics"]:
        err.print(f"[yellow]{body['file']['diagnostics']}[/]")


@files_app.command("get")
def files_get(
    path: str,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here.")] = None,
) -> None:
    """Print a workspace file, or save it with -o."""
    content = _request("GET", _file_url(path)).content
    if output:
        output.write_bytes(content)
    else:
        sys.stdout.buffer.write(content)


@files_app.command("ls")
def files_ls(prefix: Annotated[str, typer.Argument()] = "") -> None:
    """List workspace files."""
    table = Table("path", "type", "size", "git")
    for item in _request("GET", "/api/files", params={"prefix": prefix}).json():
        table.add_row(item["path"], item["entity_type"], str(item["size"]), item["git_status"])
    console.print(table)


@files_app.command("rm")
def files_rm(path: str) -> None:
    """Delete a workspace file."""
    body = _request("DELETE", _file_url(path)).json()
    console.print(f"deleted {body['path']} (generation {body['generation']})")


@files_app.command("mv")
def files_mv(old: str, new: str) -> None:
    """Rename a workspace file."""
    body = _request("POST", "/api/files/rename", json={"old_path": old, "new_path": new}).json()
    console.print(f"renamed to {body['file']['path']} (generation {body['generation']})")


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            err.print(f"[red]bad --param {pair!r}[/]: write it as name=value")
            raise typer.Exit(2)
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _find_workflow(ref: str) -> dict[str, Any]:
    workflows = _request("GET", "/api/workflows").json()
    matches = [
        w
        for w in workflows
        if ref in (w["id"], w["name"], w["function_name"], f"{w['path']}::{w['function_name']}")
    ]
    if len(matches) != 1:
        known = ", ".join(sorted(w["name"] for w in workflows)) or "none"
        what = "matches several workflows" if matches else "matches no workflow"
        err.print(f"[red]{ref!r} {what}[/] (use path::function or the id). Workflows: {known}")
        raise typer.Exit(2)
    return matches[0]


@app.command()
def run(
    workflow_ref: Annotated[
        str, typer.Argument(metavar="WORKFLOW", help="Name, id or path::function.")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value (JSON or text).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the result.")] = True,
) -> None:
    """Run a workflow and print its result."""
    target = _find_workflow(workflow_ref)
    body = _request(
        "POST",
        f"/api/workflows/{target['id']}/execute",
        json={"parameters": _parse_params(param or []), "wait": wait},
    ).json()
    if body["logs"]:
        err.print(body["logs"].rstrip())
    if body["status"] == "success":
        console.print_json(json.dumps(body["result"]))
        return
    if body["status"] in ("pending", "running"):
        console.print(f"execution {body['id']} is {body['status']}")
        return
    error = body.get("error") or {}
    err.print(error.get("traceback") or f"{error.get('type')}: {error.get('message')}")
    err.print(f"[red]execution {body['id']} {body['status']}[/]")
    raise typer.Exit(1)
