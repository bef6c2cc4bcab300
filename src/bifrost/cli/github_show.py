"""How `bifrost github` draws a preview, a conflict, a sync's progress and its outcome.

Every name that comes from a file or GitHub (paths, workflow names, commit messages) is printed
as plain text, never as Rich markup: a path like ``notes/[red].txt`` stays a path. Rich's tables,
progress bars and syntax highlighting load only when drawn (the CLI must start fast).
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

if TYPE_CHECKING:
    from rich.table import Table

ACTION_STYLE = {"add": "green", "modify": "yellow", "delete": "red"}
KIND_TEXT = {
    "modify_modify": "changed here and on GitHub",
    "add_add": "added here and on GitHub, with different content",
    "modify_delete": "changed here, deleted on GitHub",
    "delete_modify": "deleted here, changed on GitHub",
}
RESOLUTION_TEXT = {
    "modify_delete": ("push the file back", "delete it here"),
    "delete_modify": ("delete it on GitHub", "take GitHub's version back"),
}


def short(sha: str | None) -> str:
    return sha[:7] if sha else "-"


def _changes(title: str, entries: list[dict[str, Any]], sha_field: str) -> Table:
    from rich.table import Table

    table = Table(
        "path", "action", sha_field.removesuffix("_sha"), title=title, title_justify="left"
    )
    for entry in entries:
        action = entry["action"]
        table.add_row(
            Text(entry["path"]),
            Text(action, style=ACTION_STYLE.get(action, "")),
            short(entry.get(sha_field)),
        )
    return table


def preview_tables(console: Console, plan: dict[str, Any]) -> None:
    """The lists of a preview, each only when it has something."""
    from rich.table import Table

    remote, synced = short(plan.get("remote_commit")), short(plan.get("synced_commit"))
    console.print(f"GitHub at {remote}, last synced {synced}")
    broken_refs(console, plan.get("broken_refs") or [])
    if plan["is_empty"] and not plan["will_orphan"]:
        console.print("[green]nothing to pull, push or resolve[/]")
        return
    if plan["to_pull"]:
        console.print(_changes(f"to pull ({len(plan['to_pull'])})", plan["to_pull"], "remote_sha"))
    if plan["to_push"]:
        console.print(_changes(f"to push ({len(plan['to_push'])})", plan["to_push"], "local_sha"))
    if plan["conflicts"]:
        table = Table(
            "path",
            "kind",
            "mergeable",
            title=f"conflicts ({len(plan['conflicts'])})",
            title_justify="left",
        )
        for conflict in plan["conflicts"]:
            table.add_row(
                Text(conflict["path"]),
                Text(conflict["kind"], style="red"),
                Text("yes", style="green") if conflict["mergeable"] else "no",
            )
        console.print(table)
    if plan["will_orphan"]:
        table = Table(
            "workflow",
            "path",
            "function",
            "used by",
            title=f"will orphan ({len(plan['will_orphan'])})",
            title_justify="left",
        )
        for orphan in plan["will_orphan"]:
            users = ", ".join(
                f"{u['kind']} {u['name']} ({u['path']})" for u in orphan.get("used_by") or []
            )
            table.add_row(
                Text(orphan["name"]),
                Text(orphan["path"]),
                Text(orphan["function_name"]),
                Text(users or "-"),
            )
        console.print(table)
    renames = plan.get("renames") or []
    if renames:
        table = Table(
            "workflow",
            "from",
            "to",
            title=f"moved with their file, kept ({len(renames)})",
            title_justify="left",
        )
        for rename in renames:
            for workflow in rename["workflows"]:
                table.add_row(Text(workflow["name"]), Text(rename["from"]), Text(rename["to"]))
        console.print(table)


def broken_refs(console: Console, entries: list[dict[str, Any]]) -> None:
    """Forms, agents and apps that will name missing workflows: shown, never blocking."""
    if not entries:
        return
    from rich.table import Table

    table = Table(
        "kind", "path", "missing", title=f"broken references ({len(entries)})", title_justify="left"
    )
    for entry in entries:
        table.add_row(
            Text(entry["kind"]), Text(entry["path"]), Text(", ".join(entry["refs"]), style="red")
        )
    console.print(table)


def conflict_details(console: Console, conflict: dict[str, Any]) -> None:
    """What each side did to the file, its diff (here -> GitHub) and, when the two edits merge
    cleanly, the diff of the merge result."""
    from rich.syntax import Syntax

    kind = conflict["kind"]
    local, remote = RESOLUTION_TEXT.get(kind, ("push this version", "take GitHub's version"))
    console.print(
        f"[bold]{escape(conflict['path'])}[/]: {KIND_TEXT.get(kind, kind)} "
        f"(here {short(conflict.get('local_sha'))}, GitHub {short(conflict.get('remote_sha'))})"
    )
    console.print(f"  keep_local: {local}; keep_remote: {remote}")
    if conflict.get("diff"):
        console.print("[dim]diff, here -> GitHub:[/]")
        console.print(Syntax(conflict["diff"], "diff", theme="ansi_dark", word_wrap=True))
    elif kind in ("modify_modify", "add_add"):
        console.print("[dim]binary or too large to show as a diff[/]")
    if conflict["mergeable"] and conflict.get("merged_diff"):
        console.print("[green]the two edits merge cleanly[/]; merge gives (here -> merged):")
        console.print(Syntax(conflict["merged_diff"], "diff", theme="ansi_dark", word_wrap=True))


class SyncProgress:
    """One progress bar per phase (pulling, resolving, pushing), drawn from the job's events;
    output lines scroll above the bars."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[path]}", markup=False),
            console=console,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> SyncProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def show(self, event: dict[str, Any]) -> None:
        if event.get("type") == "output":
            # a Text, not style=: Rich would dim the bars redrawn below the line too
            line = Text(f"  {event.get('line', '')}", style="dim")
            self._progress.console.print(line, highlight=False)
        elif event.get("type") == "progress":
            phase = str(event.get("phase") or "working")
            total = int(event.get("total") or 0)
            current = int(event.get("current") or 0)
            if phase not in self._tasks:
                self._tasks[phase] = self._progress.add_task(phase, total=total, path="")
            path = "" if current >= total else event.get("path") or event.get("message") or ""
            self._progress.update(self._tasks[phase], total=total, completed=current, path=path)


def summary(console: Console, result: dict[str, Any]) -> None:
    """The outcome of a successful sync, in one line, then any orphaned workflow."""
    counts = [
        (result.get("pulled", 0), "pulled"),
        (result.get("pushed", 0), "pushed"),
        (result.get("merged", 0), "merged"),
        (result.get("deleted_local", 0), "deleted here"),
        (result.get("deleted_remote", 0), "deleted on GitHub"),
    ]
    done = ", ".join(f"{n} {what}" for n, what in counts if n) or "nothing to change"
    head = f"; branch at {short(result['commit'])}" if result.get("commit") else ""
    console.print(f"[green]synced[/]: {done}{head}")
    for orphan in result.get("orphaned") or []:
        console.print(f"[yellow]orphaned[/] {escape(orphan['name'])} ({escape(orphan['path'])})")
