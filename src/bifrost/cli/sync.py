"""`bifrost sync TARGET`: run a sync through the API and follow it; `bifrost sync status`.

A client command (HTTP only, no server code): ``POST /api/sync/{target}`` starts the job and its
events are followed on the channel the answer names; ``GET /api/sync/status`` is the status every
process shares. Exit status: 0 done, 1 the sync failed (or, for ``all``, a target failed).
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bifrost.cli.client import err, request
from bifrost.cli.jobs import follow
from bifrost.names import SYNC_ALL, SYNC_TARGETS

console = Console()


def _show(event: dict[str, Any]) -> None:
    if event.get("type") == "output":
        console.print(escape(event["line"]), highlight=False)
    elif event.get("type") == "progress" and event.get("path"):
        console.print(f"[dim]{escape(event.get('phase', ''))} {escape(event['path'])}[/]")


def _status() -> dict[str, Any]:
    return request("GET", "/api/sync/status").json()


def _print_status(status: dict[str, Any]) -> None:
    table = Table("target", "last run", "result", "lag", "next run", "pending", "breaker")
    for target, entry in status.items():
        breaker = entry["breaker"]
        state = breaker["state"] + (f" until {breaker['retry_at']}" if breaker["retry_at"] else "")
        outcome = (
            "[red]error[/]" if entry["last_error"] else ("ok" if entry["last_run_at"] else "-")
        )
        lag = "-" if entry["lag_s"] is None else f"{entry['lag_s']:.0f} s"
        table.add_row(
            target,
            entry["last_run_at"] or "never",
            outcome,
            lag,
            entry["next_run_at"] or "-",
            str(len(entry["pending"])),
            state,
        )
    console.print(table)
    for target, entry in status.items():
        if entry["last_error"]:
            err.print(f"[red]{target}[/]: {escape(entry['last_error'])}")
        for held in entry["pending"]:
            console.print(f"{target} pending: {escape(held['path'])} ({held['reason']})")


@click.command("sync")
@click.argument("target", type=click.Choice([SYNC_ALL, *SYNC_TARGETS, "status"]))
@click.option(
    "--confirm-orphans", is_flag=True, help="github: go on even if workflows lose their function."
)
@click.option("--no-repair", is_flag=True, help="modules, requirements: only report.")
@click.option("--json", "as_json", is_flag=True, help="Print the result (or status) as JSON.")
def sync(target: str, confirm_orphans: bool, no_repair: bool, as_json: bool) -> None:
    """Sync TARGET (all, github, modules, requirements, objects), or show the sync status."""
    if target == "status":
        status = _status()
        if as_json:
            click.echo(json.dumps(status, indent=2))
        else:
            _print_status(status)
        return
    options: dict[str, Any] = {}
    if confirm_orphans:
        if target != "github":
            raise click.UsageError("--confirm-orphans is an option of the github target")
        options["confirm_orphans"] = True
    if no_repair:
        if target not in ("modules", "requirements"):
            raise click.UsageError("--no-repair is an option of modules and requirements")
        options["repair"] = False
    started = request("POST", f"/api/sync/{target}", json_body=options).json()
    job = follow(started["job_id"], started["channel"], (lambda e: None) if as_json else _show)
    if job["status"] != "success":
        message = (job.get("error") or {}).get("message") or "?"
        err.print(f"[red]sync failed[/] (job {started['job_id']}): {escape(message)}")
        raise SystemExit(1)
    result = job.get("result") or {}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    if target == SYNC_ALL:
        failed = False
        for entry in result.get("results", []):
            note = entry.get("reason") or entry.get("error") or ""
            failed |= entry["status"] == "failed"
            if not as_json:
                console.print(f"{entry['target']}: {entry['status']} {escape(note)}".rstrip())
        if failed:
            raise SystemExit(1)
