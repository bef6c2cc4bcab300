"""`bifrost github connect|status|preview|sync|log|disconnect`: the GitHub sync from a terminal.

A client of the ``/api/github/*`` routes (the server talks to GitHub; the CLI never does). The
GitHub token is read from ``BIFROST_GITHUB_TOKEN`` or stdin (``--token-stdin``), or asked for
with the input hidden: never from an argument, which would land in the shell's history and in
``ps``. A GitHub App instead: ``--app-id`` with the private key's file (``--private-key-file``,
``-`` for stdin; or ``BIFROST_GITHUB_APP_PRIVATE_KEY``), and optionally ``--installation-id``.
``sync`` previews first, asks about each conflict (showing its diff) and about orphaned
workflows, then follows the job with a progress bar per phase. For scripts, ``--resolve
PATH=keep_local`` (repeatable) and ``--yes``; with ``--yes`` a conflict left without a resolution
ends the command (exit 2) before anything changes: a conflict is never settled silently.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from bifrost.cli.client import err, request
from bifrost.cli.github_show import SyncProgress, conflict_details, preview_tables, short, summary
from bifrost.cli.jobs import follow
from bifrost.names import GITHUB_SYNC_JOB, job_channel

console = Console()
TOKEN_ENV = "BIFROST_GITHUB_TOKEN"
KEY_ENV = "BIFROST_GITHUB_APP_PRIVATE_KEY"
MAX_KEY_BYTES = 16_384
RESOLUTIONS = ("keep_local", "keep_remote", "merge")
SHORTCUTS = {"l": "keep_local", "r": "keep_remote", "m": "merge"}
NEEDS_DECISION = 2  # exit status when a conflict or an orphan needs a person (or --resolve)


@click.group("github")
def app() -> None:
    """Connect the workspace to a GitHub repository and sync with it both ways."""


def _get(url: str, **params: Any) -> Any:
    return request("GET", url, params={k: str(v) for k, v in params.items()}).json()


def _token(from_stdin: bool) -> str | None:
    """The token to send, or None to keep the stored one."""
    if from_stdin:
        token = sys.stdin.readline().strip()
        if not token:
            err.print("[red]--token-stdin[/]: stdin held no token")
            raise SystemExit(2)
        return token
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV].strip()
    if sys.stdin.isatty():
        typed = click.prompt(
            "GitHub token (input hidden; Enter keeps the stored one)",
            default="",
            hide_input=True,
            show_default=False,
        )
        return typed.strip() or None
    return None


def _private_key(path: str | None) -> str:
    """The app's PEM: from the file (``-``: stdin), else from the environment."""
    if path is None:
        key = os.environ.get(KEY_ENV, "")
        where = f"${KEY_ENV}"
    elif path == "-":
        key = sys.stdin.read(MAX_KEY_BYTES + 1)
        where = "stdin"
    else:
        try:
            with open(path, encoding="utf-8") as pem:
                key = pem.read(MAX_KEY_BYTES + 1)
        except (OSError, UnicodeDecodeError) as exc:
            err.print(
                f"[red]--private-key-file[/]: cannot read {escape(path)} ({exc.strerror or exc})"
            )
            raise SystemExit(2) from None
        where = path
    if not key.strip():
        err.print(
            f"[red]--app-id needs the app's private key[/]: {escape(where)} held none; give "
            f"--private-key-file PATH (the .pem GitHub generated) or set ${KEY_ENV}"
        )
        raise SystemExit(2)
    if len(key) > MAX_KEY_BYTES:
        err.print(f"[red]{escape(where)}[/]: over {MAX_KEY_BYTES} bytes, not a private key")
        raise SystemExit(2)
    return key


@app.command("connect")
@click.option("--repository", "-r", required=True, help="owner/name on GitHub.")
@click.option("--branch", "-b", default="main", show_default=True, help="The branch to sync.")
@click.option(
    "--token-stdin",
    is_flag=True,
    help=f"Read the token from stdin (else ${TOKEN_ENV}, else a hidden prompt).",
)
@click.option("--app-id", help="Connect as this GitHub App instead of with a token.")
@click.option(
    "--private-key-file",
    metavar="PATH",
    help=f"The app's private key (.pem; - reads stdin; else ${KEY_ENV}).",
)
@click.option(
    "--installation-id",
    type=click.IntRange(min=1),
    help="The app's installation (default: found from the repository).",
)
def connect(
    repository: str,
    branch: str,
    token_stdin: bool,
    app_id: str | None,
    private_key_file: str | None,
    installation_id: int | None,
) -> None:
    """Connect the workspace to REPOSITORY's BRANCH with a token that can push, or as a GitHub
    App installed on it (--app-id and its private key).

    The token or key is checked, then stored encrypted on the server; no command shows it again.
    Without either the stored one is kept (to change the branch, say). Changing the repository
    or branch forgets what the last sync recorded: the next sync compares from scratch.
    """
    body: dict[str, Any] = {"repository": repository, "branch": branch}
    if app_id is None and (private_key_file or installation_id):
        raise click.UsageError("--private-key-file and --installation-id go with --app-id")
    if app_id is not None:
        if token_stdin:
            raise click.UsageError("give --app-id or --token-stdin, not both")
        body.update(app_id=app_id, private_key=_private_key(private_key_file))
        if installation_id is not None:
            body["installation_id"] = installation_id
    else:
        body["token"] = _token(token_stdin)
    config = request("POST", "/api/github/configure", json_body=body).json()
    how = (
        f"as GitHub App {escape(str(config.get('app_id')))} "
        f"(installation {config.get('installation_id')})"
        if config.get("auth") == "app"
        else "with a token"
    )
    console.print(
        f"[green]connected[/] to {escape(config['repository'])}@{escape(config['branch'])} "
        f"through {escape(config['api_url'])}, {how}"
    )
    console.print("next: `bifrost github preview`, then `bifrost github sync`")


@app.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the configuration as JSON.")
def status(as_json: bool) -> None:
    """Show the connection and the last sync."""
    config = _get("/api/github/config")
    if as_json:
        console.print_json(json.dumps(config))
        return
    if not config["connected"]:
        console.print(
            "not connected: run `bifrost github connect --repository owner/name` "
            f"(GitHub API: {escape(config['api_url'])})"
        )
        return
    who = f" by {config['connected_by']}" if config.get("connected_by") else ""
    when = f" at {config['connected_at']}" if config.get("connected_at") else ""
    synced = (
        f"{short(config['synced_commit'])} at {config['synced_at']}"
        if config.get("synced_commit")
        else "never"
    )
    auth = (
        f"GitHub App {config.get('app_id')}, installation {config.get('installation_id')}"
        if config.get("auth") == "app"
        else "personal access token"
    )
    for label, value in (
        ("repository", config["repository"]),
        ("branch", config["branch"]),
        ("GitHub API", config["api_url"]),
        ("auth", auth),
        ("connected", f"{who}{when}".strip() or "yes"),
        ("last sync", synced),
    ):
        console.print(f"{label:<11} {escape(str(value))}")


@app.command("disconnect")
def disconnect() -> None:
    """Forget the repository and the stored token or app key (workspace files stay as they
    are)."""
    request("POST", "/api/github/disconnect")
    console.print("disconnected; the stored token or app key is deleted")


@app.command("preview")
@click.option("--diff", "show_diff", is_flag=True, help="Show each conflict's diff too.")
@click.option("--json", "as_json", is_flag=True, help="Print the preview as JSON.")
def preview(show_diff: bool, as_json: bool) -> None:
    """Show what a sync would pull, push and ask about, changing nothing."""
    plan = _get("/api/github/sync")
    if as_json:
        console.print_json(json.dumps(plan))
        return
    preview_tables(console, plan)
    if show_diff:
        for conflict in plan["conflicts"]:
            conflict_details(console, conflict)


def _parse_resolutions(pairs: tuple[str, ...]) -> dict[str, str]:
    resolutions: dict[str, str] = {}
    for pair in pairs:
        path, sep, choice = pair.rpartition("=")  # a path may hold "=", a resolution never does
        choice = SHORTCUTS.get(choice, choice)
        if not sep or not path or choice not in RESOLUTIONS:
            raise click.BadParameter(
                f"{pair!r}: write PATH={'|'.join(RESOLUTIONS)}", param_hint="--resolve"
            )
        resolutions[path] = choice
    return resolutions


def _check_given(given: dict[str, str], conflicts: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The given resolutions that apply; one for a path in no conflict is dropped with a word,
    a merge of a conflict that cannot merge cleanly ends the command."""
    kept = {}
    for path, choice in given.items():
        conflict = conflicts.get(path)
        if conflict is None:
            err.print(f"[yellow]--resolve {escape(path)}[/]: not a conflict now; ignored")
        elif choice == "merge" and not conflict["mergeable"]:
            err.print(
                f"[red]--resolve {escape(path)}=merge[/]: the two versions do not merge "
                "cleanly; choose keep_local or keep_remote"
            )
            raise SystemExit(NEEDS_DECISION)
        else:
            kept[path] = choice
    return kept


def _ask(conflict: dict[str, Any], index: int, count: int) -> str:
    console.rule(f"conflict {index}/{count}")
    conflict_details(console, conflict)
    letters = [k for k, v in SHORTCUTS.items() if v != "merge" or conflict["mergeable"]]
    answer = click.prompt(
        f"{conflict['path']}: " + " / ".join(f"{SHORTCUTS[k]} ({k})" for k in letters),
        type=click.Choice([*letters, *(SHORTCUTS[k] for k in letters)]),
        show_choices=False,
    )
    return SHORTCUTS.get(answer, answer)


def _decide(plan: dict[str, Any], given: dict[str, str], yes: bool) -> tuple[dict[str, str], bool]:
    """(conflict resolutions, confirm_orphans): from --resolve, then --yes, then the person."""
    conflicts = {c["path"]: c for c in plan["conflicts"]}
    resolutions = _check_given(given, conflicts)
    open_ = [c for c in plan["conflicts"] if c["path"] not in resolutions]
    if open_ and yes:
        paths = ", ".join(c["path"] for c in open_)
        err.print(
            f"[red]{len(open_)} conflict(s) without a resolution[/]: {escape(paths)}; nothing "
            "changed. Pass --resolve PATH=keep_local|keep_remote|merge for each (see "
            "`bifrost github preview --diff`)."
        )
        raise SystemExit(NEEDS_DECISION)
    orphans = plan["will_orphan"]
    try:
        for index, conflict in enumerate(open_, 1):
            resolutions[conflict["path"]] = _ask(conflict, index, len(open_))
        confirmed = (
            yes
            or not orphans
            or click.confirm(
                f"{len(orphans)} workflow(s) will be marked orphaned "
                f"({', '.join(o['name'] for o in orphans)}). Sync anyway?",
                default=False,
            )
        )
    except click.Abort:  # Ctrl-C or the end of stdin at a question
        confirmed = False
    if not confirmed:
        err.print("\nnothing changed")
        raise SystemExit(NEEDS_DECISION)
    return resolutions, bool(orphans)


@app.command("sync")
@click.option(
    "--resolve",
    "-R",
    "resolve",
    multiple=True,
    metavar="PATH=CHOICE",
    help="Resolve a conflict: keep_local, keep_remote or merge (repeatable).",
)
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="No questions: confirm orphaned workflows; a conflict without --resolve is an error.",
)
def sync(resolve: tuple[str, ...], yes: bool) -> None:
    """Pull and push what the preview shows, asking about each conflict first.

    Exit status: 0 synced, 1 the sync failed (its message says why), 2 a conflict or an orphan
    needs a decision and nothing changed.
    """
    given = _parse_resolutions(resolve)
    plan = _get("/api/github/sync")
    preview_tables(console, plan)
    resolutions, confirm_orphans = _decide(plan, given, yes)
    job_id = request(
        "POST",
        "/api/github/sync",
        json_body={"conflict_resolutions": resolutions, "confirm_orphans": confirm_orphans},
    ).json()["job_id"]
    with SyncProgress(console) as progress:
        job = follow(job_id, job_channel(job_id, GITHUB_SYNC_JOB), progress.show)
    if job["status"] != "success":
        error = job.get("error") or {}
        err.print(f"[red]sync failed[/] (job {job_id}): {escape(error.get('message') or '?')}")
        raise SystemExit(1)
    summary(console, job.get("result") or {})


@app.command("log")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--limit", "-n", type=click.IntRange(1, 100), default=30, show_default=True)
def log(page: int, limit: int) -> None:
    """The connected branch's history on GitHub, newest first."""
    from rich.table import Table
    from rich.text import Text

    body = _get("/api/github/commits", page=page, per_page=limit)
    table = Table("commit", "date", "author", "message")
    for item in body["items"]:
        table.add_row(
            short(item["sha"]),
            Text(item.get("date") or ""),
            Text(item.get("author") or ""),
            Text((item.get("message") or "").splitlines()[0] if item.get("message") else ""),
        )
    console.print(table)
    if body.get("next_page"):
        console.print(f"older: `bifrost github log --page {body['next_page']}`")
