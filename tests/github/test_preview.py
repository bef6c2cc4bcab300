"""`GET /api/github/sync` over HTTP: `bifrost up` against the fake GitHub, on both back ends.

The workspace is connected by ``bifrost.store.github.save`` (what the configure route stores), and
"the last sync" is set up as a sync leaves it: the same bytes on both sides, bases recorded. The
fake's request log counts the GitHub calls each preview makes.
"""

from __future__ import annotations

import httpx

from bifrost.github.client import GitHubClient
from bifrost.github.plan import Resolution
from bifrost.github.preview import compute_preview
from bifrost.secrets import load_box
from bifrost.store import github
from bifrost.store.files import SetBase, workspace_generation
from bifrost.testing.fake_github.control import FakeGitHub
from bifrost.workspace.entities import git_blob_sha
from tests.github.calls import api_calls
from tests.github.sync_helpers import connect, preview, put
from tests.serving import list_all

WORKFLOWS = b"""from bifrost import workflow


@workflow
def first():
    return 1


@workflow
def second():
    return 2
"""
ONLY_FIRST = WORKFLOWS.split(b"\n\n\n@workflow\ndef second")[0] + b"\n"
BASE_TEXT = b"one\ntwo\nthree\nfour\nfive\n"
PNG = b"\x89PNG\r\n\x1a\n\0\0binary"


def sha(content: bytes) -> str:
    return git_blob_sha(content)


def by_path(entries: list[dict]) -> dict[str, dict]:
    return {entry["path"]: entry for entry in entries}


async def test_not_connected_is_409_with_what_to_do(api: httpx.Client) -> None:
    response = api.get("/api/github/sync")
    assert response.status_code == 409
    assert "connect" in response.json()["detail"]


async def test_first_previews_both_ways_etag_and_a_truncated_tree(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    # Files on the branch, none here: everything is pulled.
    there = {f"dir{d}/f{i}.txt": f"{d}-{i}\n" for d in range(3) for i in range(4)}
    head = fake_github.commit(github_repo, there)
    await connect(store, fake_github, github_repo)
    fake_github.reset_requests()
    shown = preview(api)
    assert [(e["path"], e["action"]) for e in shown["to_pull"]] == [
        (path, "add") for path in sorted(there)
    ]
    assert shown["to_pull"][0] == {
        "path": "dir0/f0.txt",
        "action": "add",
        "base_sha": None,
        "local_sha": None,
        "remote_sha": sha(b"0-0\n"),
    }
    assert shown["to_push"] == shown["conflicts"] == shown["will_orphan"] == []
    assert not shown["is_empty"]
    assert shown["remote_commit"] == head and shown["synced_commit"] is None
    assert len(api_calls(fake_github, github_repo)) == 3  # ref, commit, recursive tree

    assert preview(api) == shown
    assert api_calls(fake_github, github_repo) == ["GET /git/ref/heads/main"]  # 304 on the ETag

    there["dir0/f0.txt"] = "moved\n"
    head = fake_github.commit(github_repo, {"dir0/f0.txt": "moved\n"})
    fake_github.reset_requests()
    shown = preview(api)
    assert shown["remote_commit"] == head and shown["to_pull"][0]["remote_sha"] == sha(b"moved\n")
    assert len(api_calls(fake_github, github_repo)) == 3  # the branch moved: ref, commit, tree

    # A tree too large for one listing: walked, and only where it changed.
    fake_github.configure(max_tree_entries=5)
    try:
        moved = fake_github.commit(github_repo, {"dir1/f0.txt": "changed\n", "dir1/new.txt": "n"})
        shown = preview(api)
        assert shown["remote_commit"] == moved
        pulled = {e["path"]: e["remote_sha"] for e in shown["to_pull"]}
        assert pulled == {
            **{path: sha(text.encode()) for path, text in there.items()},
            "dir1/f0.txt": sha(b"changed\n"),
            "dir1/new.txt": sha(b"n"),
        }
        trees = [c for c in api_calls(fake_github, github_repo) if c.startswith("GET /git/trees/")]
        assert len(trees) == 1 + 2  # the truncated listing, the root, dir1 (dir0, dir2 kept)
    finally:
        fake_github.configure(max_tree_entries=100_000)

    # Files here, an empty repository: everything is pushed, in one call (409: empty).
    empty = f"{github_repo}-empty"
    fake_github.create_repo(empty)
    put(api, "workflows/flow.py", WORKFLOWS)
    put(api, "data/logo.png", PNG)
    await connect(store, fake_github, empty)
    fake_github.reset_requests()
    shown = preview(api)
    assert shown["to_pull"] == shown["conflicts"] == [] and not shown["is_empty"]
    assert [(e["path"], e["action"], e["local_sha"]) for e in shown["to_push"]] == [
        ("data/logo.png", "add", sha(PNG)),
        ("workflows/flow.py", "add", sha(WORKFLOWS)),
    ]
    assert shown["remote_commit"] is None
    assert api_calls(fake_github, empty) == ["GET /git/ref/heads/main"]


async def test_conflicts_merges_orphans_and_what_a_preview_costs(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    synced = {
        "notes/merge.txt": BASE_TEXT,
        "notes/clash.txt": BASE_TEXT,
        "notes/same.txt": b"same\n",
        "notes/edit-here-gone-there.txt": b"x\n",
        "notes/gone-here-edit-there.txt": b"y\n",
        "notes/pull.txt": b"old\n",
        "notes/push.txt": b"old\n",
        "notes/delete-here.txt": b"bye\n",
        "data/logo.png": PNG,
        "workflows/gone.py": WORKFLOWS,
        "workflows/shrunk.py": WORKFLOWS,
        "workflows/kept.py": WORKFLOWS,
    }
    for path, content in synced.items():
        put(api, path, content)
    fake_github.commit(github_repo, {path: c for path, c in synced.items()})
    await connect(store, fake_github, github_repo)  # first: connecting forgets every base
    await store.files.apply([SetBase(path, sha(c)) for path, c in synced.items()])
    assert preview(api)["is_empty"]

    # Edits here...
    put(api, "notes/merge.txt", b"ONE\ntwo\nthree\nfour\nfive\n")
    put(api, "notes/clash.txt", b"one\nTWO here\nthree\nfour\nfive\n")
    put(api, "notes/same.txt", b"same edit\n")
    put(api, "notes/edit-here-gone-there.txt", b"x edited\n")
    assert api.delete("/api/files/notes/gone-here-edit-there.txt").status_code == 200
    put(api, "notes/push.txt", b"new\n")
    assert api.delete("/api/files/notes/delete-here.txt").status_code == 200
    put(api, "notes/both-added.txt", b"here\n")
    put(api, "data/logo.png", PNG + b"here")
    # ...and there.
    remote_merge = b"one\ntwo\nthree\nfour\nFIVE\n"
    head = fake_github.commit(
        github_repo,
        {
            "notes/merge.txt": remote_merge,
            "notes/clash.txt": b"one\nTWO there\nthree\nfour\nfive\n",
            "notes/same.txt": b"same edit\n",
            "notes/edit-here-gone-there.txt": None,
            "notes/gone-here-edit-there.txt": b"y edited\n",
            "notes/pull.txt": b"new\n",
            "notes/both-added.txt": b"there\n",
            "data/logo.png": PNG + b"there",
            "workflows/gone.py": None,
            "workflows/shrunk.py": ONLY_FIRST,
            "workflows/kept.py": WORKFLOWS + b"\n# a comment\n",
        },
    )
    generation = await workspace_generation(store.db)
    listed = list_all(api, "/api/files")
    fake_github.reset_requests()
    shown = preview(api)

    assert shown["remote_commit"] == head and not shown["is_empty"]
    conflicts = by_path(shown["conflicts"])
    assert {path: c["kind"] for path, c in conflicts.items()} == {
        "data/logo.png": "modify_modify",
        "notes/both-added.txt": "add_add",
        "notes/clash.txt": "modify_modify",
        "notes/edit-here-gone-there.txt": "modify_delete",
        "notes/gone-here-edit-there.txt": "delete_modify",
        "notes/merge.txt": "modify_modify",
    }
    merged = conflicts["notes/merge.txt"]
    assert merged["mergeable"]
    assert merged["base_sha"] == sha(BASE_TEXT) and merged["remote_sha"] == sha(remote_merge)
    assert merged["diff"].startswith("--- local/notes/merge.txt\n+++ remote/notes/merge.txt\n")
    assert "-ONE\n+one\n" in merged["diff"]  # the diff is local -> remote
    assert merged["merged_diff"].splitlines()[2:] == [
        "@@ -2,4 +2,4 @@",
        " two",
        " three",
        " four",
        "-five",
        "+FIVE",
    ]
    clash = conflicts["notes/clash.txt"]
    assert not clash["mergeable"] and clash["merged_diff"] is None
    assert "-TWO here\n+TWO there\n" in clash["diff"]
    added = conflicts["notes/both-added.txt"]
    assert not added["mergeable"] and added["base_sha"] is None
    assert added["diff"].endswith("-here\n+there\n")
    binary = conflicts["data/logo.png"]
    assert not binary["mergeable"] and binary["diff"] is None and binary["merged_diff"] is None
    gone_there = conflicts["notes/edit-here-gone-there.txt"]
    assert gone_there["remote_sha"] is None and gone_there["local_sha"] == sha(b"x edited\n")
    gone_here = conflicts["notes/gone-here-edit-there.txt"]
    assert gone_here["local_sha"] is None and gone_here["base_sha"] == sha(b"y\n")

    # The same edit on both sides is no conflict, and nothing to do.
    everywhere = [*shown["to_pull"], *shown["to_push"], *shown["conflicts"]]
    assert "notes/same.txt" not in {entry["path"] for entry in everywhere}
    assert [(e["path"], e["action"]) for e in shown["to_pull"]] == [
        ("notes/pull.txt", "modify"),
        ("workflows/gone.py", "delete"),
        ("workflows/kept.py", "modify"),
        ("workflows/shrunk.py", "modify"),
    ]
    assert [(e["path"], e["action"]) for e in shown["to_push"]] == [
        ("notes/delete-here.txt", "delete"),
        ("notes/push.txt", "modify"),
    ]
    ids = {(w["path"], w["function_name"]): w["id"] for w in list_all(api, "/api/workflows")}
    assert shown["will_orphan"] == [
        {
            "workflow_id": ids[("workflows/gone.py", name)],
            "path": "workflows/gone.py",
            "function_name": name,
            "name": name,
            "used_by": [],
        }
        for name in ("first", "second")
    ] + [
        {
            "workflow_id": ids[("workflows/shrunk.py", "second")],
            "path": "workflows/shrunk.py",
            "function_name": "second",
            "name": "second",
            "used_by": [],
        }
    ]

    # ref, commit, tree; one blob per remotely modified workflow file (kept.py, shrunk.py), base
    # and remote of the two text modify/modify conflicts, the remote of the add/add one: the
    # binary conflict needs none.
    made = api_calls(fake_github, github_repo)
    assert len([c for c in made if not c.startswith("GET /git/blobs/")]) == 3
    assert sorted(c.removeprefix("GET /git/blobs/") for c in made[3:]) == sorted(
        {
            sha(WORKFLOWS + b"\n# a comment\n"),
            sha(ONLY_FIRST),
            sha(BASE_TEXT),
            sha(remote_merge),
            sha(b"one\nTWO there\nthree\nfour\nfive\n"),
            sha(b"there\n"),
        }
    )

    # The branch did not move: the ref answers 304 and only the blobs are read again.
    again = preview(api)
    assert again == shown
    made = api_calls(fake_github, github_repo)
    assert made[0] == "GET /git/ref/heads/main" and len(made) == 1 + 6

    # A preview changes nothing here.
    assert await workspace_generation(store.db) == generation
    assert list_all(api, "/api/files") == listed


# -- the engine, for what the HTTP answer does not show -------------------------------------------


async def test_a_conflict_orphans_by_its_resolution(
    store, fake_github: FakeGitHub, github_repo: str
) -> None:
    """keep_local orphans nothing; keep_remote and merge orphan what their bytes drop."""
    await connect(store, fake_github, github_repo)
    for path in ("workflows/both.py", "workflows/gone.py"):
        await store.files.write(path, WORKFLOWS)
    fake_github.commit(
        github_repo, {p: WORKFLOWS for p in ("workflows/both.py", "workflows/gone.py")}
    )
    await store.files.apply(
        [SetBase(p, sha(WORKFLOWS)) for p in ("workflows/both.py", "workflows/gone.py")]
    )
    await store.files.write("workflows/both.py", b"# edited here\n" + WORKFLOWS)
    await store.files.write("workflows/gone.py", WORKFLOWS + b"# edited here\n")
    fake_github.commit(github_repo, {"workflows/both.py": ONLY_FIRST, "workflows/gone.py": None})
    connection = await github.load(store.db, load_box(store.settings))
    assert connection is not None
    async with GitHubClient(fake_github.url, fake_github.token) as client:
        shown = await compute_preview(client, store.db, store.objects, connection)
    assert shown.will_orphan == []
    assert shown.merges["workflows/both.py"].merged == b"# edited here\n" + ONLY_FIRST

    def orphaned(**resolutions: Resolution) -> list[tuple[str, str]]:
        chosen = {f"workflows/{name}.py": r for name, r in resolutions.items()}
        return [(o.path, o.function_name) for o in shown.orphans(chosen)]

    assert orphaned(both=Resolution.KEEP_LOCAL, gone=Resolution.KEEP_LOCAL) == []
    assert orphaned(both=Resolution.MERGE) == [("workflows/both.py", "second")]
    assert orphaned(both=Resolution.KEEP_REMOTE, gone=Resolution.KEEP_REMOTE) == [
        ("workflows/both.py", "second"),
        ("workflows/gone.py", "first"),
        ("workflows/gone.py", "second"),
    ]


async def test_the_diff_of_one_incoming_and_one_outgoing_file(
    api: httpx.Client, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    fake_github.commit(github_repo, {"there.txt": "from github\n", "logo.png": PNG})
    await connect(store, fake_github, github_repo)
    put(api, "here.txt", b"made here\n")
    shown = preview(api)
    pulled, pushed = by_path(shown["to_pull"]), by_path(shown["to_push"])

    def diff(entry: dict, side: str) -> httpx.Response:
        query = {"path": entry["path"], "side": side}
        query.update({k: entry[k] for k in ("local_sha", "remote_sha") if entry[k]})
        return api.get("/api/github/sync/diff", params=query)

    incoming = diff(pulled["there.txt"], "incoming").json()["diff"]
    assert "--- local/there.txt" in incoming and "+from github" in incoming
    outgoing = diff(pushed["here.txt"], "outgoing").json()["diff"]
    assert "--- remote/here.txt" in outgoing and "+made here" in outgoing
    assert diff(pulled["logo.png"], "incoming").json() == {"path": "logo.png", "diff": None}
    put(api, "here.txt", b"changed again\n")  # the preview is stale now
    stale = diff(pushed["here.txt"], "outgoing")
    assert stale.status_code == 409, stale.text
    bad = api.get("/api/github/sync/diff", params={"path": "x", "remote_sha": "not-a-sha"})
    assert bad.status_code == 422 and "remote_sha" in bad.json()["detail"]
