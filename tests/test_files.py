"""File operations against the real store and cache, on both back ends."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from bifrost.errors import BifrostError, Conflict, InvalidInput, NotFound, TooLarge

HELLO = b"""from bifrost import workflow
from shared.greeting import greet


@workflow(description="Say hello")
def hello(name: str = "world", *, loud: bool = False) -> str:
    text = greet(name)
    return text.upper() if loud else text
"""


async def test_write_read_and_generation(store) -> None:
    first = await store.files.write("shared/greeting.py", b"def greet(n):\n    return f'hi {n}'\n")
    assert first.changed and first.generation == 1
    assert first.file.entity_type == "module"
    assert first.file.content_hash == hashlib.sha256(first.file.content).hexdigest()
    assert first.file.git_status == "untracked" and first.file.github_sha is None

    second = await store.files.write("workflows/hello.py", HELLO)
    assert second.generation == 2
    assert second.file.entity_type == "workflow"
    (workflow,) = second.workflows
    assert workflow.function_name == "hello" and workflow.description == "Say hello"
    assert [p["name"] for p in workflow.parameters] == ["name", "loud"]

    same = await store.files.write("workflows/hello.py", HELLO)
    assert not same.changed and same.generation == 2  # identical bytes are no change

    row, content = await store.files.read("workflows/hello.py")
    assert content == HELLO and row.content_type == "text/x-python"
    snapshot = await store.cache.snapshot(2)
    assert snapshot.generation == 2
    assert set(snapshot.manifest) == {"shared/greeting.py", "workflows/hello.py"}


async def test_workflow_ids_survive_edits_and_deactivate_when_removed(store) -> None:
    first = (await store.files.write("workflows/hello.py", HELLO)).workflows[0]
    edited = (await store.files.write("workflows/hello.py", HELLO + b"\n# comment\n")).workflows[0]
    assert edited.id == first.id
    result = await store.files.write("workflows/hello.py", b"x = 1\n")
    assert result.file.entity_type == "module" and result.workflows == []
    restored = (await store.files.write("workflows/hello.py", HELLO)).workflows[0]
    assert restored.id == first.id and restored.is_active


async def test_syntax_error_is_saved_and_keeps_workflows(store) -> None:
    first = (await store.files.write("workflows/hello.py", HELLO)).workflows[0]
    broken = await store.files.write("workflows/hello.py", HELLO + b"\ndef broken(:\n")
    assert broken.changed
    assert "SyntaxError" in broken.file.diagnostics
    assert broken.file.entity_type == "workflow"
    assert [w.id for w in broken.workflows] == [first.id]


async def test_delete_and_rename(store) -> None:
    await store.files.write("shared/greeting.py", b"X = 1\n")
    await store.files.write("workflows/hello.py", HELLO)
    generation = await store.files.delete("shared/greeting.py")
    with pytest.raises(NotFound):
        await store.files.read("shared/greeting.py")
    assert "shared/greeting.py" not in (await store.cache.snapshot(generation)).manifest

    workflow = (await store.files.write("workflows/hello.py", HELLO)).workflows[0]
    moved = await store.files.rename("workflows/hello.py", "workflows/greet.py")
    assert moved.file.path == "workflows/greet.py"
    assert [w.id for w in moved.workflows] == [workflow.id]
    manifest = (await store.cache.snapshot(moved.generation)).manifest
    assert "workflows/greet.py" in manifest and "workflows/hello.py" not in manifest


@pytest.mark.parametrize(
    ("path", "content", "error", "words"),
    [
        ("../x.py", b"x = 1\n", InvalidInput, ".."),
        ("/etc/passwd", b"x", InvalidInput, "absolute"),
        ("a\\b.py", b"x = 1\n", InvalidInput, "backslash"),
        ("bad\x00name.py", b"x = 1\n", InvalidInput, "NUL"),
        ("json.py", b"x = 1\n", InvalidInput, "standard-library"),
        ("httpx.py", b"x = 1\n", InvalidInput, "httpx"),
        ("bifrost.py", b"x = 1\n", InvalidInput, "bifrost"),
        ("shared/latin.py", b"x = '\xe9'\n", InvalidInput, "UTF-8"),
        ("big.txt", b"x" * (5 * 1024 * 1024 + 1), TooLarge, "limit"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(store, path, content, error, words) -> None:
    await store.files.write("shared/ok.py", b"x = 1\n")
    before = await store.cache.snapshot(0)
    with pytest.raises(BifrostError) as refused:
        await store.files.write(path, content)
    assert isinstance(refused.value, error)
    assert words.lower() in refused.value.message.lower()
    after = await store.cache.snapshot(0)
    assert after == before
    assert [f.path for f in await store.files.list()] == ["shared/ok.py"]


async def test_binary_files_go_to_the_object_store(store, backend) -> None:
    blob = bytes(range(256)) * 10
    result = await store.files.write("assets/logo.png", blob)
    assert result.file.entity_type == "binary" and result.file.in_object_store
    assert (await store.files.read("assets/logo.png"))[1] == blob
    sha = hashlib.sha256(blob).hexdigest()
    assert (backend.settings.data_dir / "objects" / sha[:2] / sha[2:]).read_bytes() == blob


async def test_compare_and_swap_lets_one_of_two_racing_writers_win(store) -> None:
    for round_ in range(20):
        base = f"base {round_}\n".encode()
        expected = (await store.files.write("notes.txt", base)).file.content_hash

        async def attempt(tag: bytes, base: bytes = base, expected: str = expected) -> bool:
            try:
                await store.files.write("notes.txt", base + tag, expected_hash=expected)
            except Conflict as exc:
                assert "changed since you read it" in exc.message
                return False
            return True

        assert sorted(await asyncio.gather(attempt(b"a\n"), attempt(b"b\n"))) == [False, True]


async def test_rename_keeps_the_sync_history_of_both_paths(store) -> None:
    from sqlalchemy import select, update

    from bifrost.store.models import WorkspaceFile

    written = await store.files.write("shared/old.py", b"X = 1\n")
    async with store.db.write() as session:  # as if the last sync had pushed it
        await session.execute(update(WorkspaceFile).values(github_sha=written.file.git_sha))
    moved = await store.files.rename("shared/old.py", "shared/new.py")
    assert moved.file.git_status == "untracked"  # GitHub never had the new path
    async with store.db.read() as session:
        old = await session.scalar(
            select(WorkspaceFile).where(WorkspaceFile.path == "shared/old.py")
        )
    assert old.is_deleted and old.github_sha == written.file.git_sha
    assert old.git_status == "deleted"  # a sync can tell the user deleted it


async def _recorded(store) -> list:
    """Every Change the store publishes from now on, in order."""
    changes: list = []

    async def record(change) -> None:
        changes.append(change)

    store.files.listeners.append(record)
    return changes


async def test_a_unit_of_work_bumps_once_and_publishes_one_change(store) -> None:
    from bifrost.store.files import Delete, Rename, SetBase, Write

    await store.files.write("shared/gone.py", b"X = 0\n")
    await store.files.write("shared/old.py", b"Y = 0\n")
    await store.files.write("workflows/hello.py", HELLO)
    before = (
        await store.files.write("shared/greeting.py", b"def greet(n):\n    return n\n")
    ).generation
    changes = await _recorded(store)
    base = "a" * 40
    applied = await store.files.apply(
        [
            Write("shared/a.py", b"A = 1\n"),
            Write("shared/b.py", b"B = 1\n"),
            Write("requirements.txt", b"requests\n"),
            Delete("shared/gone.py"),
            Rename("shared/old.py", "shared/new.py"),
            SetBase("shared/a.py", base),
        ],
        user="sync",
    )
    assert applied.changed and applied.generation == before + 1
    assert {r.generation for r in applied.results} == {before + 1}
    (change,) = changes
    assert change.generation == before + 1
    assert change.paths == {
        "shared/a.py": applied.results[0].file.content_hash,
        "shared/b.py": applied.results[1].file.content_hash,
        "requirements.txt": applied.results[2].file.content_hash,
        "shared/gone.py": None,
        "shared/old.py": None,
        "shared/new.py": applied.results[4].file.content_hash,
    }
    assert set(change.blobs.values()) == {b"A = 1\n", b"B = 1\n", b"Y = 0\n"}
    assert change.requirements == b"requests\n"
    manifest = (await store.cache.snapshot(before + 1)).manifest
    assert {"shared/a.py", "shared/b.py", "shared/new.py"} <= set(manifest)
    assert not {"shared/gone.py", "shared/old.py"} & set(manifest)
    listed = {f.path: f for f in await store.files.list()}
    assert listed["shared/a.py"].github_sha == base and listed["shared/a.py"].updated_by == "sync"


async def test_new_files_are_stored_as_the_units_last_edit_left_them(store) -> None:
    """A unit's new rows are inserted once, at its end: each edit after the first must be in it."""
    from bifrost.store.files import Delete, Rename, SetBase, Write

    base = "b" * 40
    applied = await store.files.apply(
        [
            Write("shared/first.py", b"A = 1\n"),
            Write("shared/first.py", b"A = 2\n", mode="100755"),
            Rename("shared/first.py", "shared/moved.py"),
            Write("shared/brief.py", b"B = 1\n"),
            Delete("shared/brief.py"),
            Write("notes/a.md", b"# a\n"),
            SetBase("notes/a.md", base),
        ]
    )
    listed = {f.path: f for f in await store.files.list()}
    assert set(listed) == {"shared/moved.py", "notes/a.md"}
    assert listed["notes/a.md"].github_sha == base
    assert listed["shared/moved.py"].mode == "100755"
    assert (await store.files.read("shared/moved.py"))[1] == b"A = 2\n"
    with pytest.raises(NotFound):
        await store.files.read("shared/brief.py")
    assert applied.results[2].file.path == "shared/moved.py"
    rows = await _all_rows(store)
    assert {path: row.is_deleted for path, row in rows.items()} == {
        "shared/first.py": True,
        "shared/moved.py": False,
        "shared/brief.py": True,
        "notes/a.md": False,
    }


async def _all_rows(store) -> dict:
    from sqlalchemy import select

    from bifrost.store.models import WorkspaceFile

    async with store.db.read() as session:
        return {row.path: row for row in await session.scalars(select(WorkspaceFile))}


@pytest.mark.parametrize("failing", ["invalid path", "lost compare-and-swap", "missing file"])
async def test_a_failing_edit_in_a_unit_leaves_nothing_applied(store, failing) -> None:
    from bifrost.store.files import Delete, Rename, SetBase, Write

    await store.files.write("shared/old.py", b"Y = 0\n")
    await store.files.write("shared/gone.py", b"X = 0\n")
    kept = await store.files.write("notes.txt", b"v1\n")
    changes = await _recorded(store)
    bad = {
        "invalid path": Write("../escape.py", b"x = 1\n"),
        "lost compare-and-swap": Write("notes.txt", b"v2\n", expected_hash="0" * 64),
        "missing file": Delete("shared/never.py"),
    }[failing]
    edits = [
        Write("shared/a.py", b"A = 1\n"),
        Delete("shared/gone.py"),
        Rename("shared/old.py", "shared/new.py"),
        bad,
        Write("shared/b.py", b"B = 1\n"),
        SetBase("notes.txt", "b" * 40),
    ]
    with pytest.raises((InvalidInput, Conflict, NotFound)):
        await store.files.apply(edits)
    assert changes == []
    assert sorted(f.path for f in await store.files.list()) == [
        "notes.txt",
        "shared/gone.py",
        "shared/old.py",
    ]
    row, content = await store.files.read("notes.txt")
    assert content == b"v1\n" and row.github_sha is None
    assert row.generation == kept.generation
    snapshot = await store.cache.snapshot(0)
    assert snapshot.generation == kept.generation


async def test_setting_only_base_shas_bumps_no_generation(store) -> None:
    from bifrost.store.files import SetBase

    written = await store.files.write("shared/a.py", b"A = 1\n")
    changes = await _recorded(store)
    applied = await store.files.apply([SetBase("shared/a.py", written.file.git_sha)])
    assert not applied.changed and applied.generation == written.generation and changes == []
    assert (await store.files.read("shared/a.py"))[0].git_status == "synced"
    with pytest.raises(InvalidInput, match="git blob id"):
        await store.files.apply([SetBase("shared/a.py", "not-a-sha")])


async def test_look_alike_paths_are_refused_inside_one_unit(store) -> None:
    """Two spellings of one macOS/Windows name in one unit: refused, nothing written; a unit that
    deletes one spelling first may create the other, and a rename may change the case."""
    from bifrost.store.files import Delete, Rename, Write

    with pytest.raises(Conflict, match="only by case"):
        await store.files.apply([Write("docs/a.txt", b"1"), Write("Docs/b.txt", b"2")])
    assert await store.files.list() == []
    await store.files.write("docs/a.txt", b"1")
    with pytest.raises(Conflict, match="only by case"):
        await store.files.write("DOCS/A.txt", b"2")
    await store.files.apply([Delete("docs/a.txt"), Write("Docs/a.txt", b"2")])
    await store.files.apply([Rename("Docs/a.txt", "docs/A.txt")])
    assert [row.path for row in await store.files.list()] == ["docs/A.txt"]
