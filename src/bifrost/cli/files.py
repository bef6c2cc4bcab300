"""`bifrost files put|get|ls|rm|mv`: the workspace files through the API."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

import click
from rich.console import Console

from bifrost.cli.client import err, items, request


def _file_url(path: str) -> str:
    """The files API URL of a workspace path, percent-encoded: ``a?b.txt`` is a name, not a
    query, and ``100%.txt`` is not an escape."""
    return "/api/files/" + quote(path, safe="/")


@click.group("files")
def app() -> None:
    """Read and write workspace files."""


console = Console()


@app.command("put")
@click.argument("local", type=click.Path(path_type=Path))
@click.argument("path", required=False)
def put(local: Path, path: str | None) -> None:
    """Upload LOCAL to the workspace, at PATH (default: LOCAL's path)."""
    target = path or local.as_posix()
    body = request("PUT", _file_url(target), content=local.read_bytes()).json()
    names = ", ".join(w["name"] for w in body["workflows"])
    console.print(
        f"{body['file']['path']}: {body['file']['entity_type']}, generation {body['generation']}"
        + (f", workflows: {names}" if names else "")
    )
    if body["file"]["diagnostics"]:
        err.print(f"[yellow]{body['file']['diagnostics']}[/]")


@app.command("get")
@click.argument("path")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here.")
def get(path: str, output: Path | None) -> None:
    """Print a workspace file, or save it with -o."""
    content = request("GET", _file_url(path)).content
    if output:
        output.write_bytes(content)
    else:
        sys.stdout.buffer.write(content)


@app.command("ls")
@click.argument("prefix", default="")
def ls(prefix: str) -> None:
    """List workspace files."""
    from rich.table import Table

    table = Table("path", "type", "size", "git")
    for item in items("/api/files", {"prefix": prefix}):
        table.add_row(item["path"], item["entity_type"], str(item["size"]), item["git_status"])
    console.print(table)


@app.command("rm")
@click.argument("path")
def rm(path: str) -> None:
    """Delete a workspace file."""
    body = request("DELETE", _file_url(path)).json()
    console.print(f"deleted {body['path']} (generation {body['generation']})")


@app.command("mv")
@click.argument("old")
@click.argument("new")
def mv(old: str, new: str) -> None:
    """Rename a workspace file."""
    body = request("POST", "/api/files/rename", json_body={"old_path": old, "new_path": new}).json()
    console.print(f"renamed to {body['file']['path']} (generation {body['generation']})")
