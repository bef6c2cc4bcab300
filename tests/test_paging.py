"""Lists that scale: /api/files, /api/workflows and /api/executions page with a keyset cursor.

Paging must never repeat a row or skip one that existed throughout, whatever is written or deleted
between two pages, and a cursor that is not one the listing gave out is bad input (422).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest
from sqlalchemy import update

from bifrost.errors import InvalidInput
from bifrost.store import executions, workflows
from bifrost.store.files import Delete, Write
from bifrost.store.models import Execution
from bifrost.worker.request import prepare
from tests.serving import BIFROST, Cluster, list_all

FILES = 1200


def _path(i: int) -> str:
    return f"data/f{i:05d}.txt"


async def _seed(store, count: int = FILES) -> list[str]:
    paths = [_path(i) for i in range(0, 2 * count, 2)]  # even numbers: odd ones slot in between
    await store.files.apply([Write(path, b"x") for path in paths])
    return paths


async def test_paging_with_writes_and_deletes_between_pages_sees_each_file_once(store) -> None:
    paths = await _seed(store)
    deleted: set[str] = set()
    added: set[str] = set()
    seen: list[str] = []
    cursor = None
    page_number = 0
    while True:
        page = await store.files.page(cursor=cursor, limit=100)
        seen += [row.path for row in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        page_number += 1
        # Between pages, around the cursor (at about row 100 * page_number; row r is path
        # _path(2 * r), so odd paths slot in between): new files behind and ahead of it, deletes on
        # both sides, and the file deleted ahead of it on the previous page written again.
        at = 100 * page_number
        new = [_path(2 * (at - 50) + 1), _path(2 * (at + 50) + 1)]
        gone = {_path(2 * row) for row in (at - 60, at + 160) if row < FILES}
        back = [_path(2 * (at + 60))] if page_number > 1 and at + 60 < FILES else []
        deleted |= gone
        added |= set(new)
        await store.files.apply(
            [
                *(Write(path, b"new") for path in [*new, *back]),
                *(Delete(path) for path in sorted(gone)),
            ]
        )
    assert len(seen) == len(set(seen)), "a row came twice"
    assert seen == sorted(seen), "not in path order"
    throughout = set(paths) - deleted
    assert throughout <= set(seen), f"skipped {sorted(throughout - set(seen))[:5]}"
    assert set(seen) <= set(paths) | added


async def test_a_prefix_pages_too(store) -> None:
    await _seed(store, 30)
    await store.files.write("other/x.txt", b"x")
    first = await store.files.page("data/", limit=20)
    second = await store.files.page("data/", cursor=first.next_cursor, limit=20)
    assert len(first.items) == 20 and len(second.items) == 10
    assert second.next_cursor is None  # the last page says so: no extra empty request


async def test_the_exact_last_page_has_no_cursor(store) -> None:
    await _seed(store, 40)
    page = await store.files.page(limit=40)
    assert len(page.items) == 40 and page.next_cursor is None
    assert (await store.files.page(limit=1000)).next_cursor is None


def _two_workflows(i: int) -> bytes:
    return (
        "from bifrost import workflow\n\n"
        f"@workflow\ndef b_{i}() -> int:\n    return {i}\n\n"
        f"@workflow\ndef a_{i}() -> int:\n    return {i}\n"
    ).encode()


async def test_workflows_page_by_path_then_function(store) -> None:
    await store.files.apply([Write(f"workflows/w{i:02d}.py", _two_workflows(i)) for i in range(15)])
    keys: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = await workflows.listed(store.db, cursor=cursor, limit=7)  # pages split a file
        keys += [(w.path, w.function_name) for w in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert keys == sorted(keys) and len(keys) == len(set(keys)) == 30


async def test_executions_page_newest_first_even_with_equal_times(store) -> None:
    written = await store.files.write("workflows/w.py", _two_workflows(0))
    wid = written.workflows[0].id
    ids = []
    for _ in range(12):
        record, _ = await prepare(store.db, wid, {}, timeout_s=5, max_timeout_s=60, memory_mb=256)
        ids.append(record.id)
    async with store.db.write() as session:  # half of them share one microsecond: the id decides
        moment = (await executions.get(store.db, ids[0])).created_at
        await session.execute(
            update(Execution).where(Execution.id.in_(ids[:6])).values(created_at=moment)
        )
    seen: list[Execution] = []
    cursor = None
    while True:
        page = await executions.recent(store.db, cursor=cursor, limit=4)
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        # a run created between pages is newer than the cursor: it never shows on a later page
        await prepare(store.db, wid, {}, timeout_s=5, max_timeout_s=60, memory_mb=256)
    assert sorted(e.id for e in seen) == sorted(ids)
    keys = [(e.created_at, e.id) for e in seen]
    assert keys == sorted(keys, reverse=True)


def _cursor(*values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode()


BAD_CURSORS = [
    "not base64 at all!",
    "é",
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
    base64.urlsafe_b64encode(b"{not json").decode(),
    _cursor(),  # no kind
    base64.urlsafe_b64encode(b'{"k": "files"}').decode(),  # not a list
    _cursor("workflows", "a.py", "f"),  # another listing's cursor
    _cursor("files"),  # no key
    _cursor("files", "a", "b"),  # too long a key
    _cursor("files", 3),  # not a string
    "A" * 5000,
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_bad_file_cursor_is_invalid_input(store, cursor: str) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        await store.files.page(cursor=cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("executions", "yesterday", "id"),
        _cursor("executions", "2026-12-02T10:00:00", "id"),  # no offset: which zone?
        _cursor("executions", "2026-12-02T10:00:00+00:00"),
    ],
)
async def test_a_bad_execution_cursor_is_invalid_input(store, cursor: str) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        await executions.recent(store.db, cursor=cursor)


async def test_a_limit_below_one_is_invalid_input(store) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        await store.files.page(limit=0)


async def test_the_api_and_the_cli_page_through_every_file(cluster: Cluster) -> None:
    from bifrost.context import open_context

    async with open_context(cluster.backend.settings) as ctx:  # seeded beside the running API
        paths = await _seed(ctx)
    with cluster.client() as client:
        first = client.get("/api/files")
        assert first.status_code == 200
        body = first.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) == 500 and body["next_cursor"]  # the default page
        assert [f["path"] for f in list_all(client, "/api/files", limit=1000)] == paths
        assert [f["path"] for f in list_all(client, "/api/files", limit=7)] == paths

        for url, params in [
            ("/api/files", {"limit": 0}),
            ("/api/files", {"limit": 1001}),
            ("/api/workflows", {"limit": -1}),
            ("/api/executions", {"limit": 5000}),
            ("/api/files", {"limit": "many"}),
            ("/api/files", {"cursor": "garbage!"}),
            ("/api/executions", {"cursor": body["next_cursor"]}),  # a files cursor
            ("/api/workflows", {"cursor": _cursor("workflows", "a.py")}),
        ]:
            refused = client.get(url, params=params)
            assert refused.status_code == 422, (url, params, refused.text)
            assert refused.json()["detail"], refused.text

    environment = {**os.environ, **cluster.backend.env, "BIFROST_API_URL": cluster.urls[0]}
    listing = subprocess.run(
        [BIFROST, "files", "ls"], env=environment, capture_output=True, text=True, check=True
    ).stdout
    shown = [line.split()[1] for line in listing.splitlines() if "data/f" in line]
    assert shown == paths
