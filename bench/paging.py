"""Paged listings at 10,000 files: one page's answer against the whole list in one answer.

Before paging, ``GET /api/files`` sent every file's metadata in one answer (3.7 MB at 10,000
files), so its size and time grew with the workspace. This seeds 10,000 files (every tenth holding
a workflow) beside a running ``bifrost up`` and measures, over HTTP: the default first page, and
every page followed to the end with the largest limit (what the CLI does; its items together are
exactly the old single answer).

    .venv/bin/python -m bench.paging [--files 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from bench.common import TOKEN, Backend, stop, wait_healthy
from bench.files_unit import source
from bifrost.context import open_context
from bifrost.store.files import Write
from tests.servers import free_port


async def seed(backend: Backend, files: int) -> None:
    async with open_context(backend.settings()) as svc:
        edits = [Write(f"pkg{i // 100}/mod{i}.py", source(i, 1)) for i in range(files)]
        await svc.files.apply(edits)


def timed_get(client: httpx.Client, url: str, params: dict[str, object]) -> tuple[float, dict]:
    started = time.perf_counter()
    answer = client.get(url, params=params)
    answer.raise_for_status()
    return time.perf_counter() - started, {"bytes": len(answer.content), **answer.json()}


def measure(client: httpx.Client, url: str, rounds: int) -> dict[str, float]:
    first_s, all_s = [], []
    for _ in range(rounds):
        seconds, page = timed_get(client, url, {})
        first_s.append(seconds)
        first_bytes, first_items = page["bytes"], len(page["items"])
        total_s, total_bytes, items, pages = 0.0, 0, [], 0
        params: dict[str, object] = {"limit": 1000}
        while True:
            seconds, page = timed_get(client, url, params)
            total_s, total_bytes, pages = total_s + seconds, total_bytes + page["bytes"], pages + 1
            items += page["items"]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        all_s.append(total_s)
    whole = len(httpx.Response(200, json=items).content)  # the old answer: one JSON list
    return {
        "items": len(items),
        "first_items": first_items,
        "first_bytes": first_bytes,
        "whole_bytes": whole,
        "paged_bytes": total_bytes,
        "pages": pages,
        "first_ms": 1000 * min(first_s),
        "all_ms": 1000 * min(all_s),
    }


def run(kind: str, files: int, rounds: int) -> dict[str, dict[str, float]]:
    backend = Backend(kind)
    server = None
    try:
        asyncio.run(seed(backend, files))
        port = free_port()
        server = backend.spawn("up", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            return {url: measure(client, url, rounds) for url in ("/api/files", "/api/workflows")}
    finally:
        if server:
            stop(server)
        backend.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.files} files; best of {args.rounds} rounds")
    print(
        f"{'back end':<9} {'listing':<15} {'items':>6} {'first page':>18} {'whole list':>10} "
        f"{'all pages':>22}"
    )
    for kind in ("embedded", "postgres"):
        for url, r in run(kind, args.files, args.rounds).items():
            print(
                f"{kind:<9} {url:<15} {r['items']:>6} "
                f"{r['first_bytes'] / 1e3:>7.0f} kB {r['first_ms']:>6.1f} ms "
                f"{r['whole_bytes'] / 1e6:>7.2f} MB "
                f"{r['paged_bytes'] / 1e6:>5.2f} MB {r['pages']:>2} req {r['all_ms']:>6.1f} ms"
            )


if __name__ == "__main__":
    main()
