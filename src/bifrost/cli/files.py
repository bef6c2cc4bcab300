"""`bifrost files put|get|ls|rm|mv`: the workspace files through the API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bifrost.cli.client import err, request

app = typer.Typer(help="Read and write workspace files.", no_args_is_help=True)
console = Console()


@app.command("put")
def put(
    local: Path,
    path: Annotated[
        str | None, typer.Argument(help="Workspace path; default: LOCAL's path.")
    ] = None,
) -> None:
    """Upload LOCAL to the workspace."""
    target = path or local.as_posix()
    body = request("PUT", f"/api/files/{target}", content=local.read_bytes()).json()
    names = ", ".join(w["name"] for w in body["workflows"])
    console.print(
        f"{body['file']['path']}: {body['file']['entity_type']}, generation {body['generation']}"
        + (f", workflows: {names}" if names else "")
    )
    if body["file"]["diagnostics"]:
        err.print(f"[yellow]{body['file']['diagnostics']}[/]")


@app.command("get")
def get(
    path: str,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here.")] = None,
) -> None:
    """Print a workspace file, or save it with -o."""
    content = request("GET", f"/api/files/{path}").content
    if output:
        output.write_bytes(content)
    else:
        sys.stdout.buffer.write(content)


@app.command("ls")
def ls(prefix: Annotated[str, typer.Argument()] = "") -> None:
    """List workspace files."""
    from rich.table import Table

    table = Table("path", "type", "size", "git")
    for item in request("GET", "/api/files", params={"prefix": prefix}).json():
        table.add_row(item["path"], item["entity_type"], str(item["size"]), item["git_status"])
    console.print(table)


@app.command("rm")
def rm(path: str) -> None:
    """Delete a workspace file."""
    body = request("DELETE", f"/api/files/{path}").json()
    console.print(f"deleted {body['path']} (generation {body['generation']})")


@app.command("mv")
def mv(old: str, new: str) -> None:
    """Rename a workspace file."""
    body = request("POST", "/api/files/rename", json={"old_path": old, "new_path": new}).json()
    console.print(f"renamed to {body['file']['path']} (generation {body['generation']})")
