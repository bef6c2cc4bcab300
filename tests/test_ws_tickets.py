"""One-time WebSocket tickets: a ticket opens one connection, a used, expired or unknown one is
refused, on both back ends (in memory; in Redis, where another API process may take it)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bifrost.api.tickets import LocalTickets, RedisTickets
from tests.conftest import Backend, need_servers, wait_until
from tests.servers import REDIS_URL, drop_prefix
from tests.serving import Cluster


async def test_a_local_ticket_opens_once() -> None:
    tickets = LocalTickets()
    ticket = await tickets.issue("admin")
    assert await tickets.take(ticket) == "admin"
    assert await tickets.take(ticket) is None  # used
    assert await tickets.take("not-a-ticket") is None


async def test_an_expired_local_ticket_is_refused() -> None:
    tickets = LocalTickets(ttl_s=0)  # expired as soon as it is issued
    assert await tickets.take(await tickets.issue("admin")) is None
    assert not tickets._open  # taking it removed it; issuing prunes the other expired ones


async def test_a_redis_ticket_opens_once_and_expires() -> None:
    need_servers()
    prefix = f"bifrost-test-{uuid.uuid4().hex[:8]}:"
    client = aioredis.from_url(REDIS_URL)
    try:
        issuer = RedisTickets(client, prefix)
        other_process = RedisTickets(client, prefix)
        ticket = await issuer.issue("admin")
        assert ticket not in str(await client.keys(f"{prefix}*"))  # only its hash is stored
        assert await other_process.take(ticket) == "admin"
        assert await issuer.take(ticket) is None  # used, whichever process asks

        short = RedisTickets(client, prefix, ttl_s=1)
        expiring = await short.issue("admin")

        async def expired() -> bool:
            return not await client.keys(f"{prefix}ws-ticket:*")

        await wait_until(expired, timeout=10)  # Redis dropped it by its TTL
        assert await short.take(expiring) is None
    finally:
        await client.aclose()
        drop_prefix(prefix)


def _open(url: str, ticket: str):  # type: ignore[no-untyped-def]
    return connect(url, subprotocols=["bifrost", f"bifrost.ticket.{ticket}"])


def test_tickets_over_http(backend: Backend, tmp_path: Path) -> None:
    """Distributed: issued by one API process, used on the other."""
    logs = tmp_path / "logs"
    logs.mkdir()
    distributed = backend.name == "postgres"
    cluster = Cluster(backend, logs).start(apis=2 if distributed else 1, workers=1)
    try:
        ws_url = cluster.urls[-1].replace("http://", "ws://") + "/api/ws"
        assert httpx.post(f"{cluster.urls[0]}/api/ws/ticket").status_code == 401
        with cluster.client(0) as client:
            answer = client.post("/api/ws/ticket")
        assert answer.status_code == 200, answer.text
        issued = answer.json()
        assert issued["subprotocol"] == "bifrost" and issued["expires_in"] == 30
        with _open(ws_url, issued["ticket"]) as socket:
            assert socket.subprotocol == "bifrost"  # the ticket is not echoed back
            socket.send(json.dumps({"subscribe": "packages:probe"}))
            assert json.loads(socket.recv(timeout=10)) == {"subscribed": "packages:probe"}
        for refused in (issued["ticket"], "never-issued"):
            with pytest.raises(InvalidStatus) as closed:
                _open(ws_url, refused)
            assert closed.value.response.status_code == 403
    finally:
        cluster.stop()
    assert issued["ticket"] not in cluster.logs()
