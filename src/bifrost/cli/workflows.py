"""`bifrost workflows ls|orphaned|recreate|deactivate|activate`: the workflow endpoints from a
terminal. A client of the HTTP API only (no server code)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.text import Text

from bifrost.cli.client import items, request

if TYPE_CHECKING:
    from rich.table import Table

console = Console()


@click.group("workflows")
def app() -> None:
    """List workflows and orphans; recreate, deactivate and activate them."""


def _state(workflow: dict[str, Any]) -> Text:
    if not workflow["is_active"]:
        return Text("inactive", style="red")
    if workflow["is_orphaned"]:
        return Text("orphaned", style="yellow")
    return Text("active", style="green")


def _table(title: str, workflows: list[dict[str, Any]]) -> Table:
    from rich.table import Table  # drawn only here: the command starts without it

    table = Table("id", "name", "path", "function", "state", title=title, title_justify="left")
    for workflow in workflows:
        table.add_row(
            Text(workflow["id"]),
            Text(workflow["name"]),
            Text(workflow["path"]),
            Text(workflow["function_name"]),
            _state(workflow),
        )
    return table


@app.command("ls")
@click.option("--all", "everything", is_flag=True, help="Include deactivated workflows.")
def list_workflows(everything: bool) -> None:
    """Every workflow (orphans included), by path and function."""
    params = {"include_inactive": "true"} if everything else {}
    found = list(items("/api/workflows", params))
    console.print(_table(f"workflows ({len(found)})", found))


@app.command("orphaned")
def orphaned() -> None:
    """Workflows whose function left its file; they run their kept code until recovered."""
    found = list(items("/api/workflows/orphaned"))
    if not found:
        console.print("[green]no orphaned workflows[/]")
        return
    console.print(_table(f"orphaned ({len(found)})", found))


def _act(workflow_id: str, action: str, done: str) -> None:
    body = request("POST", f"/api/workflows/{workflow_id}/{action}").json()
    console.print(Text(f"{body['name']} ({body['path']}::{body['function_name']}) {done}"))


@app.command("recreate")
@click.argument("workflow_id")
def recreate(workflow_id: str) -> None:
    """Write an orphan's kept source back to its file."""
    _act(workflow_id, "recreate", "recreated from its kept source")


@app.command("deactivate")
@click.argument("workflow_id")
def deactivate(workflow_id: str) -> None:
    """Stop a workflow from running."""
    _act(workflow_id, "deactivate", "deactivated")


@app.command("activate")
@click.argument("workflow_id")
def activate(workflow_id: str) -> None:
    """Let a deactivated workflow run again."""
    _act(workflow_id, "activate", "activated")
