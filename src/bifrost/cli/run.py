"""`bifrost run WORKFLOW`: run a workflow through the API and print its result."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console

from bifrost.cli.client import err, items, request

console = Console()


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            err.print(f"[red]bad --param {pair!r}[/]: write it as name=value")
            raise SystemExit(2)
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _find_workflow(ref: str) -> dict[str, Any]:
    workflows = list(items("/api/workflows"))
    matches = [
        w
        for w in workflows
        if ref in (w["id"], w["name"], w["function_name"], f"{w['path']}::{w['function_name']}")
    ]
    if len(matches) != 1:
        known = ", ".join(sorted(w["name"] for w in workflows)) or "none"
        what = "matches several workflows" if matches else "matches no workflow"
        err.print(f"[red]{ref!r} {what}[/] (use path::function or the id). Workflows: {known}")
        raise SystemExit(2)
    return matches[0]


@click.command()
@click.argument("workflow_ref", metavar="WORKFLOW")
@click.option("--param", "-p", multiple=True, help="name=value (JSON or text).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the result.")
def run(workflow_ref: str, param: tuple[str, ...], wait: bool) -> None:
    """Run a workflow and print its result.

    WORKFLOW is its name, id or path::function.
    """
    target = _find_workflow(workflow_ref)
    body = request(
        "POST",
        f"/api/workflows/{target['id']}/execute",
        json_body={"parameters": _parse_params(list(param)), "wait": wait},
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
    raise SystemExit(1)
