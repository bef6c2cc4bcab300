"""`bifrost migrate`: an old workspace, from a directory and from S3 (moto's server, on loopback),
into the database on both back ends; twice in a row changes nothing the second time, a dry run
changes nothing at all, and files that cannot be imported are reported with the reason."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from bifrost.migrate.run import Report, migrate_workspace
from bifrost.store import workflows
from bifrost.store.files import workspace_generation
from tests.s3 import KEY_ID, REGION, SECRET, Bucket
from tests.serving import BIFROST

WORKFLOW = b'''from bifrost import workflow

from shared.util import greet


@workflow
def hello(name: str = "world") -> str:
    """Say hello."""
    return greet(name)
'''
UTIL = b"def greet(name):\n    return f'hello {name}'\n"
BINARY = bytes(range(256)) * 2048  # 512 KiB: the object store's

GOOD = {
    "workflows/hello.py": WORKFLOW,
    "shared/__init__.py": b"",
    "shared/util.py": UTIL,
    "requirements.txt": b"packaging>=24\n",
    "data/table.bin": BINARY,
    "docs/readme.md": b"# the old workspace\n",
    "shared/broken_syntax.py": b"def oops(:\n",  # imported, with a warning
}
LEFT_OUT = {
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".git/config": b"[remote]\n\turl = https://x:ghp_secret@github.com/o/r\n",
    "shared/__pycache__/util.cpython-311.pyc": b"\x00compiled",
    ".venv/lib/site.py": b"",
    ".pytest_cache/v/cache/nodeids": b"[]",
    "workflows/hello.pyc": b"\x00",
}
BAD = {
    "json.py": b"X = 1\n",  # shadows the standard library
    "bad name/mod.py": b"X = 1\n",  # not an importable package name
    "latin.py": b"caf\xe9 = 1\n",  # not UTF-8, no coding declaration
    "huge.txt": b"x" * (2 * 1024 * 1024 + 1),  # over the limit set below
}
REFUSED_BECAUSE = {
    "json.py": "standard-library module",
    "bad name/mod.py": "bad name",
    "latin.py": "UTF-8",
    "huge.txt": "BIFROST_MAX_FILE_BYTES",
}


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


@pytest.fixture
def settings(backend):
    return backend.settings.model_copy(update={"max_file_bytes": 2 * 1024 * 1024})


@pytest.fixture
def old_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "old-workspace"
    write_tree(root, {**GOOD, **LEFT_OUT, **BAD})
    (root / "workflows" / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "workflows" / "run.sh").chmod(0o755)
    (root / "shared" / "link.py").symlink_to("/etc/passwd")
    return root


def refused(report: Report) -> dict[str, str]:
    return {item.path: item.reason or "" for item in report.refused}


def check_first_run(report: Report, expected_paths: set[str], link: bool) -> None:
    assert report.count("add") == len(expected_paths), report.as_json()
    assert {i.path for i in report.items if i.action == "add"} == expected_paths
    reasons = refused(report)
    assert set(reasons) == set(BAD) | ({"shared/link.py"} if link else set())
    for path, word in REFUSED_BECAUSE.items():
        assert word in reasons[path], (path, reasons[path])
    if link:
        assert "symbolic link" in reasons["shared/link.py"]
    if not link:  # S3 counts each object; a directory on disk counts once, unread
        assert sum(report.left_out.values()) == len(LEFT_OUT)
    assert {".git", "__pycache__", ".venv", ".pytest_cache", "*.pyc"} <= set(report.left_out)
    assert [i.path for i in report.warnings] == ["shared/broken_syntax.py"]
    assert report.generation_after == report.generation_before + 1  # one unit, one generation
    assert report.workflows == 1 and report.requirements


async def check_imported(store, expected: dict[str, bytes]) -> None:
    for path, content in expected.items():
        assert (await store.files.read(path))[1] == content, path
    for path in (*LEFT_OUT, *BAD):
        assert path not in {row.path for row in await store.files.list()}
    listed = await workflows.listed(store.db)
    assert [(w.path, w.name, w.description) for w in listed.items] == [
        ("workflows/hello.py", "hello", "Say hello.")
    ]
    requirements = await store.cache.requirements()
    assert requirements is not None and "packaging>=24" in requirements["content"]


async def test_a_directory_twice_in_a_row(store, settings, old_workspace: Path) -> None:
    first = await migrate_workspace(settings, str(old_workspace))
    expected = {**GOOD, "workflows/run.sh": b"#!/bin/sh\necho hi\n"}
    check_first_run(first, set(expected), link=True)
    await check_imported(store, expected)
    row, _ = await store.files.read("workflows/run.sh")
    assert row.mode == "100755"  # the executable bit, as git keeps it
    assert (await store.files.read("data/table.bin"))[0].in_object_store

    second = await migrate_workspace(settings, str(old_workspace))
    assert second.changed == 0 and second.count("unchanged") == len(expected)
    assert second.generation_before == second.generation_after == first.generation_after
    assert await workspace_generation(store.db) == first.generation_after
    assert set(refused(second)) == set(refused(first))  # still reported, still not imported

    # an edit in the source, and only that, goes in on the next run
    (old_workspace / "shared" / "util.py").write_bytes(UTIL + b"# edited\n")
    third = await migrate_workspace(settings, str(old_workspace))
    assert [
        (i.path, i.action)
        for i in third.items
        if i.action != "unchanged" and i.reason is None and i.action != "refused"
    ] == [("shared/util.py", "update")]
    assert third.generation_after == first.generation_after + 1


async def test_a_dry_run_changes_nothing(store, settings, old_workspace: Path) -> None:
    before = await workspace_generation(store.db)
    plan = await migrate_workspace(settings, str(old_workspace), dry_run=True)
    assert plan.dry_run and plan.count("add") == len(GOOD) + 1
    assert plan.generation_after == plan.generation_before == before
    assert await workspace_generation(store.db) == before
    assert await store.files.list() == []
    assert set(refused(plan)) == set(BAD) | {"shared/link.py"}


def bucket_settings(settings, bucket: Bucket):
    """The migration source's own settings (BIFROST_S3_*), not the object store's."""
    return settings.model_copy(
        update={
            "s3_endpoint_url": bucket.endpoint,
            "s3_region": REGION,
            "s3_access_key_id": KEY_ID,
            "s3_secret_access_key": SecretStr(SECRET),
        }
    )


async def test_s3_twice_in_a_row(store, settings, s3_bucket: Bucket) -> None:
    for path, content in {**GOOD, **LEFT_OUT, **BAD}.items():
        s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=f"_repo/{path}", Body=content)
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="_repo/empty-folder/", Body=b"")
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key="elsewhere.py", Body=b"X = 2\n")
    source = f"s3://{s3_bucket.name}/_repo"
    first = await migrate_workspace(bucket_settings(settings, s3_bucket), source)
    check_first_run(first, set(GOOD), link=False)
    await check_imported(store, GOOD)
    assert "elsewhere.py" not in {row.path for row in await store.files.list()}

    second = await migrate_workspace(bucket_settings(settings, s3_bucket), source)
    assert second.changed == 0 and second.count("unchanged") == len(GOOD)
    assert second.generation_after == first.generation_after


async def test_an_s3_source_that_cannot_be_read_says_why(settings, s3_bucket: Bucket) -> None:
    from bifrost.errors import Unavailable

    wrong = bucket_settings(settings, s3_bucket).model_copy(
        update={"s3_secret_access_key": SecretStr("not-the-secret")}
    )
    missing = f"s3://no-such-bucket-{s3_bucket.name[-6:]}/x"
    with pytest.raises(Unavailable, match="NoSuchBucket") as failed:
        await migrate_workspace(bucket_settings(settings, s3_bucket), missing)
    assert SECRET not in str(failed.value)
    assert wrong.s3_secret_access_key is not None


def run_cli(backend, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **backend.env, "BIFROST_MAX_FILE_BYTES": str(2 * 1024 * 1024)}
    command = [BIFROST, "migrate", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_the_command_reports_and_exits_0_or_1(backend, old_workspace: Path, tmp_path: Path) -> None:
    done = run_cli(backend, str(old_workspace), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["added"] == len(GOOD) + 1 and report["changed"] == len(GOOD) + 1
    assert {item["path"] for item in report["refused"]} == set(BAD) | {"shared/link.py"}

    again = run_cli(backend, str(old_workspace))
    assert again.returncode == 0, again.stderr
    assert "0 changed" in again.stdout and "(unchanged)" in again.stdout

    only_bad = tmp_path / "only-bad"
    write_tree(only_bad, {"json.py": b"X = 1\n"})
    failed = run_cli(backend, str(only_bad))
    assert failed.returncode == 1 and "json.py" in failed.stdout
    empty = tmp_path / "empty"
    write_tree(empty, {".git/HEAD": b"ref\n"})
    nothing = run_cli(backend, str(empty))
    assert nothing.returncode == 1 and "holds no file to import" in " ".join(nothing.stderr.split())
    assert run_cli(backend, str(tmp_path / "no-such-dir")).returncode == 1
