"""Round trips per execution: SQL statements, transactions, SQLite thread hops, Redis commands.

Runs `bifrost up`'s roles in this process (the HTTP app through an ASGI transport, so the figures
leave out uvicorn) and counts what sequential ``POST /api/workflows/{id}/execute`` (wait: true)
calls cost, on both back ends. A count does not depend on the machine's load, unlike a time; the
Redis column also holds the SAQ consumer's idle polls (a ``BLMOVE`` per slot and second), so its
fraction is noise. Runs on any checkout whose ``bifrost.roles.api.http_app`` exists (so
``bench.e2e_latency --before`` can run it on the older tree too).

    .venv/bin/python -m bench.round_trips [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import httpx

from bench.common import TOKEN, Backend
from bench.e2e_latency import WORKFLOW
from tests.counting import counting


async def measure(kind: str, runs: int) -> dict[str, Any]:
    from bifrost.roles.api import http_app

    backend = Backend(kind)
    try:
        app = http_app(backend.settings(), ("api", "worker", "scheduler"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers, timeout=30
            ) as client:
                for name in "abc":
                    body = f"{name.upper()} = 1\n".encode()
                    await client.put(f"/api/files/shared/{name}.py", content=body)
                answer = await client.put("/api/files/workflows/trivial.py", content=WORKFLOW)
                wid = answer.json()["workflows"][0]["id"]

                async def once() -> None:
                    url = f"/api/workflows/{wid}/execute"
                    body = (await client.post(url, json={"parameters": {"x": 1}})).json()
                    assert body["status"] == "success" and body["result"] == 4, body

                for _ in range(20):
                    await once()
                await asyncio.sleep(0.2)  # the last run's queue bookkeeping settles
                with counting(app.state.services.db) as counts:
                    for _ in range(runs):
                        await once()
                    await asyncio.sleep(0.05)
                return counts.per_run(runs)
    finally:
        backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="one JSON object per back end")
    args = parser.parse_args()
    for kind in ("embedded", "postgres"):
        figures = asyncio.run(measure(kind, args.runs))
        if args.json:
            print(json.dumps({"backend": kind, **figures}))
            continue
        print(f"{kind}: per execution")
        for name, value in figures.items():
            print(f"  {name:<20} {value if isinstance(value, dict) else round(value, 2)}")


if __name__ == "__main__":
    main()
