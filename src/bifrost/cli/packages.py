"""`bifrost packages add|ls|rm`: the package endpoints from a terminal.

``add`` subscribes to its job's event channel before it asks for the install, so the installer's
output scrolls by live instead of arriving all at once when a long build finishes.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import click
from rich.console import Console

from bifrost.cli.client import err, request
from bifrost.cli.events import subscribed
from bifrost.names import job_channel

console = Console()


@click.group("packages")
def app() -> None:
    """Install, list and remove the workspace's Python packages."""


def _request(method: str, url: str, **kwargs: Any) -> Any:
    return request(method, url, **kwargs).json()


def _follow(job_id: str, ready: threading.Event, stop: threading.Event) -> None:
    """Print the job's installer output from the WebSocket until told to stop; best effort."""
    try:
        with subscribed(job_channel(job_id)) as channel:
            ready.set()
            while not stop.is_set():
                event = channel.next(0.2) or {}
                if event.get("type") == "output":
                    err.print(f"  {event['line']}", style="dim", markup=False, highlight=False)
                elif event.get("type") == "done":
                    return
    except Exception:  # boundary: live output is best effort; the POST still answers
        pass
    finally:
        ready.set()


@app.command("add")
@click.argument("requirement")
@click.option("--quiet", "-q", is_flag=True, help="Hide the installer output.")
def add(requirement: str, quiet: bool) -> None:
    """Install a package for every workflow; it is added to requirements.txt.

    REQUIREMENT is e.g. 'requests>=2.31' or 'name[extra]'.
    """
    job_id = uuid.uuid4().hex
    ready, stop = threading.Event(), threading.Event()
    follower = None
    if not quiet:
        follower = threading.Thread(target=_follow, args=(job_id, ready, stop), daemon=True)
        follower.start()
        ready.wait(5)
    try:
        body = _request(
            "POST",
            "/api/packages/install",
            json_body={"requirement": requirement, "job_id": job_id},
        )
    finally:
        stop.set()
        if follower is not None:
            follower.join(2)
    what = "added to requirements.txt" if body["changed"] else "already in requirements.txt"
    console.print(f"[green]{body['requirement']}[/] {what}")
    _workers(body)


def _worker_problems(worker: str, state: dict[str, Any]) -> None:
    for item, message in (state.get("failed") or {}).items():
        err.print(f"[red]worker {worker} could not install {item}[/]:\n{message}")
    if state.get("error"):
        err.print(f"[yellow]worker {worker}[/]: {state['error']}")


def _workers(body: dict[str, Any]) -> None:
    for worker, state in sorted(body.get("workers", {}).items()):
        _worker_problems(worker, state)
    if body.get("waiting_for"):
        err.print(f"[yellow]still waiting for workers[/]: {', '.join(body['waiting_for'])}")


@app.command("ls")
def ls() -> None:
    """List the packages in requirements.txt and what each worker could not install."""
    from rich.table import Table

    body = _request("GET", "/api/packages")
    table = Table("name", "requirement", "installed here")
    for item in body["packages"]:
        table.add_row(item["name"], item["requirement"], item["installed_version"] or "-")
    console.print(table)
    for line in body["ignored"]:
        err.print(f"[yellow]ignored line[/] {line['line']!r}: {line['error']}")
    for worker in body["workers"]:
        _worker_problems(worker["id"], worker)


@app.command("rm")
@click.argument("name")
def rm(name: str) -> None:
    """Remove a package from requirements.txt; every worker uninstalls it."""
    body = _request("DELETE", f"/api/packages/{name}")
    console.print(f"removed {', '.join(body['lines'])} from requirements.txt")
    _workers(body)
