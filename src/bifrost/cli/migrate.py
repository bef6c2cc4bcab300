"""`bifrost migrate DIR | s3://bucket/prefix`: import an existing workspace into the database.

Like `bifrost init`, it runs where the database is reachable, and imports the server code
(``bifrost.migrate``) inside the command. It prints what it did (with ``--dry-run``, what it would
do), each refused file with the reason, and exits 0; 1 only when nothing could be imported.
"""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bifrost.cli.server import _setup_logging, server_settings

console = Console()
err = Console(stderr=True)


@click.command()
@click.argument("source")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def migrate(source: str, dry_run: bool, as_json: bool) -> None:
    """Import the workspace in SOURCE (a directory, or s3://bucket/prefix) into the database.

    Files are checked like any save; those that cannot be imported are listed with the reason.
    Identical files are not written, so running it again changes nothing. `.git`, caches and
    virtual environments are left out; nothing in the database is deleted. S3 credentials:
    BIFROST_S3_*, else BIFROST_OBJECT_STORE_*, else the usual AWS variables.
    """
    import asyncio

    from bifrost.errors import BifrostError
    from bifrost.migrate.run import migrate_workspace

    _setup_logging()
    settings = server_settings()
    columns = (
        TextColumn("[bold]reading[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=escape(path[-50:]))

        try:
            report = asyncio.run(
                migrate_workspace(settings, source, dry_run=dry_run, progress=progress)
            )
        except BifrostError as exc:
            err.print(f"[red]nothing was imported[/]: {escape(str(exc))}")
            raise SystemExit(1) from None
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        _show(report)
    if report.nothing_done:
        raise SystemExit(1)


def _show(report) -> None:  # bifrost.migrate.run.Report
    verb = "would import" if report.dry_run else "imported"
    if report.dry_run and report.changed:
        plan = Table("action", "path", "workflows", title="plan (nothing changed: --dry-run)")
        for item in report.items:
            if item.action in ("add", "update"):
                plan.add_row(item.action, escape(item.path), str(item.workflows or ""))
        console.print(plan)
    if report.refused:
        refused = Table("path", "why it cannot be imported", title="refused")
        for item in report.refused:
            refused.add_row(escape(item.path), escape(item.reason or ""))
        console.print(refused)
    for item in report.warnings:
        console.print(f"[yellow]warning[/] {escape(item.path)}: {escape(item.reason or '')}")
    left_out = ", ".join(f"{name} ({n})" for name, n in report.left_out.items()) or "nothing"
    console.print(
        f"{verb} from {escape(report.source)}: {report.count('add')} added, "
        f"{report.count('update')} updated, {report.count('unchanged')} unchanged, "
        f"{len(report.refused)} refused; {report.changed} changed; left out: {escape(left_out)}"
    )
    moved = (
        f"generation {report.generation_before} -> {report.generation_after}"
        if report.generation_after != report.generation_before
        else f"generation {report.generation_before} (unchanged)"
    )
    console.print(f"{report.workflows} workflow(s) in the changed files; {moved}")
    if report.requirements:
        console.print("requirements.txt changed: workers install its packages")
    if report.nothing_done:
        err.print("[red]nothing could be imported[/]: see the reasons above")
