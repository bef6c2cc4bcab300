"""The API says what it does (review L4-L9, issue 7 item 8), against real servers."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import ADMIN_TOKEN
from tests.serving import Cluster, list_all
from tests.test_http import execute, put, save_hello


def _types(value: object) -> object:
    """The JSON shape of a value: field names and types, nulls as 'null'."""
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_types(item) for item in value[:1]]
    return type(value).__name__


def test_health_has_one_shape_and_no_internals_without_a_token(cluster: Cluster) -> None:
    """Item 8 and L4: the same fields either way; the token fills in details, never re-types."""
    public = httpx.get(f"{cluster.urls[0]}/api/health").json()
    with cluster.client() as client:
        private = client.get("/api/health").json()
    assert public.keys() == private.keys()
    assert public["workers"] and private["workers"]
    public_worker, private_worker = public["workers"][0], private["workers"][0]
    assert public_worker.keys() == private_worker.keys()
    assert public_worker["packages"].keys() == private_worker["packages"].keys()
    assert _types(public_worker["packages"]) == {
        "requirements": "int",
        "failed": [],
        "error": "bool",
        "messages": "NoneType",
        "error_message": "NoneType",
    }
    assert _types(private_worker["packages"])["requirements"] == "int"
    assert _types(private_worker["packages"])["error"] == "bool"
    assert public["database"].keys() == private["database"].keys()
    assert public_worker["id"] is None and ":" in private_worker["id"]  # host:pid with a token
    assert public_worker["packages"]["messages"] is None
    assert public["database"]["message"] is None and public["cache"]["message"] is None


def _has_offset(stamp: str | None) -> bool:
    return stamp is None or stamp.endswith("Z") or stamp[-6] in "+-"


def test_timestamps_always_carry_an_offset(cluster: Cluster) -> None:
    """L5: SQLite gave back naive datetimes, e.g. "2026-12-02T02:03:34.661326"."""
    with cluster.client() as client:
        wid = save_hello(client)
        run = execute(client, wid)
        stored = client.get(f"/api/executions/{run['id']}").json()
        listed = list_all(client, "/api/executions")[0]
        files = list_all(client, "/api/files")
    for record in (stored, listed):
        for key in ("created_at", "started_at", "finished_at"):
            assert _has_offset(record[key]), (key, record[key])
        assert record["finished_at"] is not None
    assert all(_has_offset(f["updated_at"]) for f in files)


def test_if_match_follows_rfc_9110(cluster: Cluster) -> None:
    """L8: If-Match: * on an existing file was a 409; weak tags gave a confusing 409."""
    with cluster.client() as client:
        assert (
            client.put("/api/files/n.txt", content=b"1", headers={"If-Match": "*"}).status_code
            == 409
        )
        created = client.put("/api/files/n.txt", content=b"1", headers={"If-None-Match": "*"})
        assert created.status_code == 200
        again = client.put("/api/files/n.txt", content=b"2", headers={"If-None-Match": "*"})
        assert again.status_code == 409
        assert (
            client.put("/api/files/n.txt", content=b"2", headers={"If-Match": "*"}).status_code
            == 200
        )
        etag = client.get("/api/files/n.txt").headers["etag"]
        weak = client.put("/api/files/n.txt", content=b"3", headers={"If-Match": f"W/{etag}"})
        assert weak.status_code == 409 and "weak" in weak.json()["detail"]
        listed = client.put(
            "/api/files/n.txt", content=b"3", headers={"If-Match": f'"{"0" * 64}", {etag}'}
        )
        assert listed.status_code == 200, listed.text
        stale = client.put("/api/files/n.txt", content=b"4", headers={"If-Match": etag})
        assert stale.status_code == 409
        assert client.get("/api/files/n.txt").content == b"3"


def _wait_for_log(cluster: Cluster, text: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = cluster.logs()
        if text in logs:
            return logs
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in the log:\n{cluster.logs()}")


def test_a_client_leaving_mid_upload_logs_no_traceback(cluster: Cluster) -> None:
    """L9: a ClientDisconnect during PUT was an 'Exception in ASGI application'."""
    parts = urlsplit(cluster.urls[0])
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(
            f"PUT /api/files/gone.txt HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: 1000000\r\n\r\n".encode()
            + b"x" * 100_000
        )
    logs = _wait_for_log(cluster, "client disconnected during PUT /api/files/gone.txt")
    assert "Traceback" not in logs and "Exception in ASGI application" not in logs
    with cluster.client() as client:
        assert client.get("/api/files/gone.txt").status_code == 404


def test_websocket_refuses_bad_frames_cleanly(cluster: Cluster) -> None:
    """L7: a binary frame raised KeyError('text'); an 8 MiB channel name was subscribed."""
    url = cluster.urls[0].replace("http://", "ws://") + "/api/ws"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with connect(url, additional_headers=headers) as ws:
        ws.send(b'{"subscribe": "x"}')
        assert "text frames" in json.loads(ws.recv(timeout=10))["error"]
        ws.send(json.dumps({"subscribe": "c" * 10_000}))
        assert "at most" in json.loads(ws.recv(timeout=10))["error"]
        ws.send(json.dumps({"subscribe": "ok"}))
        assert json.loads(ws.recv(timeout=10)) == {"subscribed": "ok"}
    with connect(url, additional_headers=headers, max_size=None) as ws:
        ws.send(json.dumps({"subscribe": "c" * (8 * 1024 * 1024)}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # too big
    with cluster.client() as client:
        put(client, "after.txt", b"still serving\n")
    assert "Traceback" not in cluster.logs()
