"""`bifrost github`: first against a stand-in of the routes (arguments, prompts, --resolve, the
progress drawn from a scripted WebSocket, the polling fallback, errors), then end to end against a
real `bifrost up` and the fake GitHub."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bifrost.cli import app
from bifrost.jobs import progress as events
from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.cli_standin import JOB_ID, TOKEN, StandIn, job, serving
from tests.serving import BIFROST, Cluster

GITHUB_TOKEN = "ghp_cli_test_token_never_printed_0123"
SHA_L, SHA_R, SHA_B = "1" * 40, "2" * 40, "b" * 40


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with serving() as state:
        yield state


def run(
    standin: StandIn, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    environment = {
        "BIFROST_API_URL": standin.url,
        "BIFROST_ADMIN_TOKEN": TOKEN,
        "BIFROST_GITHUB_TOKEN": None,
        **(env or {}),
    }
    return CliRunner().invoke(app, ["github", *args], input=input, env=environment)


def entry(path: str, action: str = "modify") -> dict:
    return {
        "path": path,
        "action": action,
        "base_sha": SHA_B,
        "local_sha": SHA_L,
        "remote_sha": SHA_R,
    }


def conflict(path: str, kind: str = "modify_modify", mergeable: bool = False) -> dict:
    return {
        "path": path,
        "base_sha": SHA_B,
        "local_sha": SHA_L,
        "remote_sha": SHA_R,
        "kind": kind,
        "mergeable": mergeable,
        "diff": f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-here = 1\n+there = 2\n",
        "merged_diff": (f"--- a/{path}\n+++ b/{path}\n@@ -1 +1,2 @@\n here = 1\n+merged = 3\n")
        if mergeable
        else None,
    }


def plan(**lists: list) -> dict:
    body = {"to_pull": [], "to_push": [], "conflicts": [], "will_orphan": [], **lists}
    is_empty = not (body["to_pull"] or body["to_push"] or body["conflicts"])
    return {**body, "is_empty": is_empty, "remote_commit": SHA_R, "synced_commit": SHA_B}


ORPHAN = {"workflow_id": "w1", "path": "workflows/old.py", "function_name": "old", "name": "Old"}


def sync_bodies(standin: StandIn) -> list:
    return [body for path, body in standin.posted if path == "/api/github/sync"]


# ---- connect, status, disconnect, log ---------------------------------------------------------


def test_connect_sends_the_token_from_the_environment_and_never_prints_it(standin: StandIn):
    done = run(
        standin,
        "connect",
        "-r",
        "octocat/demo",
        "-b",
        "dev",
        env={"BIFROST_GITHUB_TOKEN": GITHUB_TOKEN},
    )
    assert done.exit_code == 0, done.output
    assert standin.posted == [
        (
            "/api/github/configure",
            {"repository": "octocat/demo", "branch": "dev", "token": GITHUB_TOKEN},
        )
    ]
    assert "connected to octocat/demo@dev" in done.output
    assert GITHUB_TOKEN not in done.output


def test_connect_reads_the_token_from_stdin(standin: StandIn):
    done = run(
        standin,
        "connect",
        "--repository",
        "octocat/demo",
        "--token-stdin",
        input=f"{GITHUB_TOKEN}\n",
        env={"BIFROST_GITHUB_TOKEN": "not-this-one"},
    )
    assert done.exit_code == 0, done.output
    assert standin.posted[0][1] == {
        "repository": "octocat/demo",
        "branch": "main",
        "token": GITHUB_TOKEN,
    }


def test_connect_with_an_empty_stdin_is_refused(standin: StandIn):
    done = run(standin, "connect", "-r", "octocat/demo", "--token-stdin", input="")
    assert done.exit_code == 2 and "stdin held no token" in done.output
    assert standin.posted == []


def test_connect_without_a_token_keeps_the_stored_one(standin: StandIn):
    done = run(standin, "connect", "-r", "octocat/demo", "-b", "release")
    assert done.exit_code == 0, done.output
    assert standin.posted[0][1]["token"] is None


def test_connect_has_no_token_argument(standin: StandIn):
    done = run(standin, "connect", "-r", "octocat/demo", "--token", GITHUB_TOKEN)
    assert done.exit_code == 2 and "No such option" in done.output
    assert standin.posted == []


def test_status_when_not_connected_and_connected(standin: StandIn):
    assert "not connected: run `bifrost github connect" in run(standin, "status").output
    standin.config = {
        **standin.config,
        "connected": True,
        "repository": "octocat/demo",
        "branch": "main",
        "connected_by": "admin",
        "connected_at": "2026-12-02T10:00:00Z",
        "synced_commit": SHA_R,
        "synced_at": "2026-12-02T11:00:00Z",
    }
    done = run(standin, "status")
    assert done.exit_code == 0, done.output
    for text in ("octocat/demo", "by admin at 2026-12-02T10:00:00Z", "2222222 at 2026-12-02T11:00"):
        assert text in done.output
    assert '"synced_commit": "' + SHA_R in run(standin, "status", "--json").output


def test_disconnect(standin: StandIn):
    done = run(standin, "disconnect")
    assert done.exit_code == 0 and "disconnected" in done.output
    assert standin.posted == [("/api/github/disconnect", None)]


def test_log_lists_commits_and_the_next_page(standin: StandIn):
    standin.commits = {
        "items": [
            {
                "sha": "abcdef0123" + "0" * 30,
                "message": "Fix the [bold]greeting[/]\n\nbody",
                "author": "Mona",
                "date": "2026-12-01T09:00:00Z",
                "html_url": "http://x",
            }
        ],
        "next_page": 3,
    }
    done = run(standin, "log", "--page", "2", "-n", "5")
    assert done.exit_code == 0, done.output
    assert "abcdef0" in done.output and "Fix the [bold]greeting[/]" in done.output
    assert "body" not in done.output and "bifrost github log --page 3" in done.output


def test_an_error_answer_ends_the_command_with_its_detail(standin: StandIn):
    done = run(standin, "status", env={"BIFROST_ADMIN_TOKEN": "wrong"})
    assert done.exit_code == 1 and "401: missing or invalid token" in done.output


# ---- preview ----------------------------------------------------------------------------------


def test_preview_shows_every_list(standin: StandIn):
    standin.preview = plan(
        to_pull=[entry("workflows/new.py", "add"), entry("notes/[red]odd.txt", "delete")],
        to_push=[entry("shared/util.py")],
        conflicts=[conflict("a.py", mergeable=True), conflict("b.bin", "modify_delete")],
        will_orphan=[ORPHAN],
    )
    done = run(standin, "preview")
    assert done.exit_code == 0, done.output
    out = done.output
    for text in (
        "to pull (2)",
        "workflows/new.py",
        "notes/[red]odd.txt",  # a name, never markup
        "to push (1)",
        "shared/util.py",
        "conflicts (2)",
        "modify_modify",
        "modify_delete",
        "will orphan (1)",
        "workflows/old.py",
    ):
        assert text in out, text
    assert "-here = 1" not in out  # diffs only with --diff
    with_diff = run(standin, "preview", "--diff").output
    assert "-here = 1" in with_diff and "+merged = 3" in with_diff


def test_preview_shows_users_and_broken_references(standin: StandIn):
    user = {"kind": "form", "id": "f1", "name": "Onboard", "path": "forms/onboard.form.json"}
    broken = {"kind": "agent", "id": None, "name": "bot", "path": "agents/bot.agent.json"}
    standin.preview = plan(
        will_orphan=[{**ORPHAN, "used_by": [user]}],
        broken_refs=[{**broken, "refs": ["flows/[x].py::gone"]}],
    )
    out = run(standin, "preview").output
    for text in ("form Onboard", "broken references (1)", "agents/bot.agent.json", "[x].py::gone"):
        assert text in out, text
    standin.preview = plan(broken_refs=[{**broken, "refs": ["a.py::f"]}])  # empty otherwise
    out = run(standin, "preview").output
    assert "broken references (1)" in out and "nothing to pull, push or resolve" in out


def test_an_empty_preview_says_so(standin: StandIn):
    done = run(standin, "preview")
    assert done.exit_code == 0 and "nothing to pull, push or resolve" in done.output


# ---- sync: decisions --------------------------------------------------------------------------


def test_sync_with_yes_and_an_unresolved_conflict_changes_nothing(standin: StandIn):
    standin.preview = plan(conflicts=[conflict("a.py"), conflict("b.py")])
    done = run(standin, "sync", "--yes", "--resolve", "a.py=keep_local")
    assert done.exit_code == 2, done.output
    assert "1 conflict(s) without a resolution" in done.output and "b.py" in done.output
    assert sync_bodies(standin) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["a.py=keep_local"], {"a.py": "keep_local"}),
        (["a.py=r"], {"a.py": "keep_remote"}),
        (
            ["dir/x=y.txt=keep_remote", "a.py=merge"],
            {"dir/x=y.txt": "keep_remote", "a.py": "merge"},
        ),
    ],
)
def test_resolve_options_become_the_resolutions(standin: StandIn, given, expected):
    standin.preview = plan(conflicts=[conflict("a.py", mergeable=True), conflict("dir/x=y.txt")])
    standin.preview["conflicts"] = [
        c for c in standin.preview["conflicts"] if c["path"] in expected
    ]
    args = [arg for pair in given for arg in ("--resolve", pair)]
    done = run(standin, "sync", "--yes", *args)
    assert done.exit_code == 0, done.output
    assert sync_bodies(standin) == [{"conflict_resolutions": expected, "confirm_orphans": False}]


@pytest.mark.parametrize("bad", ["a.py", "a.py=", "=keep_local", "a.py=theirs"])
def test_a_bad_resolve_is_a_usage_error(standin: StandIn, bad: str):
    standin.preview = plan(conflicts=[conflict("a.py")])
    done = run(standin, "sync", "--yes", "--resolve", bad)
    assert done.exit_code == 2 and "--resolve" in done.output
    assert standin.posted == []


def test_merge_of_a_conflict_that_cannot_merge_is_refused(standin: StandIn):
    standin.preview = plan(conflicts=[conflict("a.py", mergeable=False)])
    done = run(standin, "sync", "--yes", "--resolve", "a.py=merge")
    assert done.exit_code == 2 and "do not merge cleanly" in done.output
    assert sync_bodies(standin) == []


def test_a_resolution_for_a_path_in_no_conflict_is_dropped(standin: StandIn):
    standin.preview = plan(to_push=[entry("a.py")])
    done = run(standin, "sync", "--yes", "--resolve", "gone.py=keep_local")
    assert done.exit_code == 0, done.output
    assert "gone.py" in done.output and "not a conflict now" in done.output
    assert sync_bodies(standin) == [{"conflict_resolutions": {}, "confirm_orphans": False}]


def test_sync_asks_about_each_conflict_with_its_diff(standin: StandIn):
    standin.preview = plan(
        conflicts=[conflict("a.py", mergeable=True), conflict("b.py", "delete_modify")]
    )
    done = run(standin, "sync", input="x\nm\nkeep_remote\n")
    assert done.exit_code == 0, done.output
    out = done.output
    assert "conflict 1/2" in out and "conflict 2/2" in out
    assert "-here = 1" in out and "+there = 2" in out  # the diff, here -> GitHub
    assert "merge cleanly" in out and "+merged = 3" in out
    assert "deleted here, changed on GitHub" in out
    assert "merge (m)" in out.split("conflict 2/2")[0]
    assert "merge (m)" not in out.split("conflict 2/2")[1]  # not offered: it cannot merge
    assert "Error: 'x' is not one of" in out  # asked again
    assert sync_bodies(standin) == [
        {"conflict_resolutions": {"a.py": "merge", "b.py": "keep_remote"}, "confirm_orphans": False}
    ]


def test_sync_offers_no_merge_for_a_conflict_that_cannot_merge(standin: StandIn):
    standin.preview = plan(conflicts=[conflict("a.py", mergeable=False)])
    done = run(standin, "sync", input="m\nl\n")
    assert done.exit_code == 0, done.output
    assert sync_bodies(standin)[0]["conflict_resolutions"] == {"a.py": "keep_local"}


def test_orphans_are_confirmed_or_nothing_changes(standin: StandIn):
    standin.preview = plan(to_pull=[entry("workflows/old.py", "delete")], will_orphan=[ORPHAN])
    refused = run(standin, "sync", input="n\n")
    assert refused.exit_code == 2 and "marked orphaned (Old)" in refused.output
    assert "nothing changed" in refused.output and sync_bodies(standin) == []
    assert run(standin, "sync", input="y\n").exit_code == 0
    assert run(standin, "sync", "--yes").exit_code == 0
    assert sync_bodies(standin) == [{"conflict_resolutions": {}, "confirm_orphans": True}] * 2


def test_an_end_of_input_at_a_prompt_changes_nothing(standin: StandIn):
    standin.preview = plan(conflicts=[conflict("a.py")])
    done = run(standin, "sync", input="")
    assert done.exit_code == 2 and "nothing changed" in done.output
    assert sync_bodies(standin) == []


# ---- sync: following the job ------------------------------------------------------------------

RESULT = {
    "pulled": 2,
    "pushed": 1,
    "merged": 0,
    "deleted_local": 0,
    "deleted_remote": 0,
    "commit": "abcdef1" + "0" * 33,
    "orphaned": [ORPHAN],
}


def test_sync_draws_a_bar_per_phase_from_the_job_channel(standin: StandIn):
    standin.preview = plan(to_pull=[entry("a.py"), entry("b.py")], to_push=[entry("c.py")])
    standin.events = [
        events.progress("pulling", 1, 2, path="a.py"),
        events.output("fetched 2 blobs [ok]"),
        events.progress("pulling", 2, 2, path="b.py"),
        events.progress("pushing", 0, 1),
        events.progress("pushing", 1, 1, path="c.py"),
        events.done(RESULT),
    ]
    standin.final = job("success", result=RESULT)
    done = run(standin, "sync")
    assert done.exit_code == 0, done.output
    assert standin.subscriptions == [f"git:{JOB_ID}"]
    out = done.output
    assert "fetched 2 blobs [ok]" in out
    lines = out.splitlines()
    assert any("pulling" in line and "2/2" in line for line in lines), out
    assert any("pushing" in line and "1/1" in line for line in lines), out
    assert "synced: 2 pulled, 1 pushed; branch at abcdef1" in out
    assert "orphaned Old (workflows/old.py)" in out


def test_a_failed_sync_exits_with_its_message(standin: StandIn):
    standin.preview = plan(to_push=[entry("c.py")])
    message = "the branch moved: a.py changed on GitHub too; preview again"
    standin.events = [events.progress("pushing", 0, 1), events.done(error=message)]
    standin.final = job("failed", error={"type": "Conflict", "message": message})
    done = run(standin, "sync")
    assert done.exit_code == 1
    assert f"sync failed (job {JOB_ID}): {message}" in " ".join(done.output.split())


def test_without_a_websocket_the_job_is_polled(standin: StandIn):
    standin.preview = plan(to_pull=[entry("a.py"), entry("b.py")])
    standin.websocket = False
    standin.polled = [
        job("running", progress={"phase": "pulling", "current": 1, "total": 2, "path": "a.py"}),
        job("running", progress={"phase": "pulling", "current": 2, "total": 2, "path": "b.py"}),
    ]
    standin.final = job("success", result={**RESULT, "pushed": 0, "orphaned": []})
    done = run(standin, "sync")
    assert done.exit_code == 0, done.output
    assert "polling the job instead" in done.output
    assert any("pulling" in line and "2/2" in line for line in done.output.splitlines())
    assert "synced: 2 pulled; branch at abcdef1" in done.output
    assert standin.reads == 3


def test_a_sync_already_running_is_reported(standin: StandIn):
    standin.preview = plan(to_push=[entry("c.py")])
    standin.sync_refusal = (409, "a sync is running (job j-1); wait for it")
    done = run(standin, "sync", "--yes")
    assert done.exit_code == 1 and "409: a sync is running (job j-1)" in done.output


def test_the_cli_never_reads_the_github_token_from_its_own_environment_for_sync(standin: StandIn):
    """Only `connect` sends a GitHub token; the other commands never do."""
    standin.preview = plan(to_push=[entry("c.py")])
    env = {"BIFROST_GITHUB_TOKEN": GITHUB_TOKEN}
    for args in (["status"], ["preview"], ["sync", "--yes"], ["log"], ["disconnect"]):
        assert run(standin, *args, env=env).exit_code == 0
    assert GITHUB_TOKEN not in repr(standin.posted)


# ---- the fake GitHub's helper commands (the README's teammate) --------------------------------


def fake_command(fake_github: FakeGitHub, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bifrost.testing.fake_github", "--url", fake_github.url, *args],
        capture_output=True,
        text=True,
    )


def test_the_fakes_commands_create_commit_and_show(fake_github: FakeGitHub, tmp_path: Path):
    name = f"octocat/cli-{uuid.uuid4().hex[:8]}"
    assert "created" in fake_command(fake_github, "create-repo", name).stdout
    (tmp_path / "a.py").write_bytes(b"x = 1\n")
    done = fake_command(
        fake_github, "commit", name, "--file", f"a.py={tmp_path / 'a.py'}", "--text", "n.txt=hi"
    )
    assert done.returncode == 0, done.stderr
    assert {p: f.content for p, f in fake_github.files(name).items()} == {
        "a.py": b"x = 1\n",
        "n.txt": b"hi",
    }
    assert fake_command(fake_github, "files", name, "a.py").stdout == "x = 1\n"
    assert fake_command(fake_github, "commit", name, "--delete", "n.txt").returncode == 0
    assert "n.txt" not in fake_command(fake_github, "files", name).stdout
    missing = fake_command(fake_github, "commit", "octocat/nowhere", "--text", "a=b")
    assert missing.returncode == 1 and "no repository octocat/nowhere" in missing.stderr


# ---- end to end: a real `bifrost up`, the fake GitHub, the `bifrost` command -------------------


def bifrost(
    cluster: Cluster, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    environment = {
        **{k: v for k, v in os.environ.items() if k != "BIFROST_GITHUB_TOKEN"},
        **cluster.backend.env,
        "BIFROST_API_URL": cluster.urls[0],
        "COLUMNS": "200",
        **(env or {}),
    }
    return subprocess.run(
        [BIFROST, "github", *args], env=environment, input=input, capture_output=True, text=True
    )


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def token_env(fake_github: FakeGitHub) -> dict[str, str]:
    return {"BIFROST_GITHUB_TOKEN": fake_github.token}


def connect(cluster: Cluster, fake_github: FakeGitHub, repo: str) -> None:
    out = ok(
        bifrost(cluster, "connect", "-r", repo, "--token-stdin", input=f"{fake_github.token}\n")
    )
    assert f"connected to {repo}@main" in out and fake_github.token not in out


def workspace(cluster: Cluster, path: str) -> bytes:
    with cluster.client() as client:
        answer = client.get(f"/api/files/{path}")
        return answer.content if answer.status_code == 200 else b"<missing>"


def put(cluster: Cluster, files: dict[str, bytes]) -> None:
    with cluster.client() as client:
        for path, content in files.items():
            client.put(f"/api/files/{path}", content=content).raise_for_status()


def remote(fake_github: FakeGitHub, repo: str) -> dict[str, bytes]:
    return {path: f.content for path, f in fake_github.files(repo).items()}


def test_connect_status_log_and_disconnect(
    cluster: Cluster, fake_github: FakeGitHub, github_repo: str
):
    sha = fake_github.commit(github_repo, {"README.md": "# demo\n"}, message="Start the [demo]")
    wrong = "ghp_wrong_token_0123456789abcdef0123"
    refused = bifrost(cluster, "connect", "-r", github_repo, env={"BIFROST_GITHUB_TOKEN": wrong})
    assert refused.returncode == 1 and "422: " in refused.stderr, refused.stderr
    assert wrong not in refused.stdout + refused.stderr
    assert "not connected" in ok(bifrost(cluster, "status"))

    connect(cluster, fake_github, github_repo)
    status = ok(bifrost(cluster, "status"))
    assert github_repo in status and "main" in status and "last sync   never" in status
    assert fake_github.token not in status + ok(bifrost(cluster, "status", "--json"))
    log = ok(bifrost(cluster, "log"))
    assert sha[:7] in log and "Start the [demo]" in log
    assert "disconnected" in ok(bifrost(cluster, "disconnect"))
    assert "not connected" in ok(bifrost(cluster, "status"))


GREETING = b"def greet(name):\n    return f'Hello, {name}!'\n"
HELLO_WF = (
    b"from bifrost import workflow\n\nfrom shared.greeting import greet\n\n\n"
    b"@workflow\ndef hello(name: str = 'world') -> str:\n    return greet(name)\n"
)
LOGO = bytes(range(256)) * 4


def test_push_pull_and_a_conflict_through_the_cli(
    cluster: Cluster, fake_github: FakeGitHub, github_repo: str
):
    put(cluster, {"shared/greeting.py": GREETING, "workflows/hello.py": HELLO_WF, "logo.bin": LOGO})
    connect(cluster, fake_github, github_repo)
    assert "last sync   never" in ok(bifrost(cluster, "status"))
    assert "to push (3)" in ok(bifrost(cluster, "preview"))

    out = ok(bifrost(cluster, "sync", "--yes"))
    assert "synced: 3 pushed" in out, out
    assert remote(fake_github, github_repo) == {
        "shared/greeting.py": GREETING,
        "workflows/hello.py": HELLO_WF,
        "logo.bin": LOGO,
    }
    assert "nothing to pull, push or resolve" in ok(bifrost(cluster, "preview"))
    synced = ok(bifrost(cluster, "status")).split("last sync")[1].split()[0]
    assert synced != "never" and synced in ok(bifrost(cluster, "log"))  # the branch's head

    theirs = GREETING.replace(b"Hello", b"Howdy")
    ours = GREETING.replace(b"Hello", b"Hi")
    fake_github.commit(
        github_repo, {"shared/greeting.py": theirs.decode(), "shared/new.py": "NEW = 1\n"}
    )
    put(cluster, {"shared/greeting.py": ours})
    preview = ok(bifrost(cluster, "preview", "--diff"))
    assert "to pull (1)" in preview and "shared/new.py" in preview
    assert "conflicts (1)" in preview and "modify_modify" in preview
    assert "-    return f'Hello, {name}!'" not in preview  # the diff is here -> GitHub
    assert "+    return f'Howdy, {name}!'" in preview and "-    return f'Hi, {name}!'" in preview

    refused = bifrost(cluster, "sync", "--yes")
    assert refused.returncode == 2 and "shared/greeting.py" in refused.stderr
    assert workspace(cluster, "shared/new.py") == b"<missing>"  # nothing changed

    out = ok(bifrost(cluster, "sync", "--yes", "--resolve", "shared/greeting.py=keep_remote"))
    assert "synced:" in out and "pulled" in out, out
    assert workspace(cluster, "shared/greeting.py") == theirs
    assert workspace(cluster, "shared/new.py") == b"NEW = 1\n"
    assert remote(fake_github, github_repo)["shared/greeting.py"] == theirs
    assert "nothing to pull, push or resolve" in ok(bifrost(cluster, "preview"))


def test_an_interactive_merge_and_an_orphan_prompt(
    cluster: Cluster, fake_github: FakeGitHub, github_repo: str
):
    base = b"".join(f"line {n}\n".encode() for n in range(1, 8))
    put(
        cluster, {"notes.txt": base, "workflows/hello.py": HELLO_WF, "shared/greeting.py": GREETING}
    )
    connected = bifrost(cluster, "connect", "-r", github_repo, env=token_env(fake_github))
    assert f"connected to {github_repo}@main" in ok(connected)
    ok(bifrost(cluster, "sync", "--yes"))

    ours = base.replace(b"line 1\n", b"line one\n")
    theirs = base.replace(b"line 7\n", b"line seven\n")
    put(cluster, {"notes.txt": ours})
    fake_github.commit(github_repo, {"notes.txt": theirs.decode()})
    preview = ok(bifrost(cluster, "preview"))
    assert "notes.txt" in preview and "yes" in preview.split("conflicts")[1]

    done = bifrost(cluster, "sync", input="m\n")
    out = ok(done)
    assert "merge cleanly" in out and "merge (m)" in out
    merged = base.replace(b"line 1\n", b"line one\n").replace(b"line 7\n", b"line seven\n")
    assert workspace(cluster, "notes.txt") == merged
    assert remote(fake_github, github_repo)["notes.txt"] == merged

    fake_github.commit(github_repo, {"workflows/hello.py": None})
    preview = ok(bifrost(cluster, "preview"))
    assert "will orphan (1)" in preview and "hello" in preview.split("will orphan")[1]
    declined = bifrost(cluster, "sync", input="n\n")
    assert declined.returncode == 2 and "nothing changed" in declined.stderr
    assert workspace(cluster, "workflows/hello.py") == HELLO_WF
    out = ok(bifrost(cluster, "sync", input="y\n"))
    assert "orphaned" in out and workspace(cluster, "workflows/hello.py") == b"<missing>"
    assert "nothing to pull, push or resolve" in ok(bifrost(cluster, "preview"))
