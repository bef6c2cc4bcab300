"""Tokens never reach a log or an error (review M6, L14), staged against real servers."""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ADMIN_TOKEN, Backend
from tests.serving import BIFROST, Cluster


def _subprotocol(token: str) -> str:
    return "bifrost.bearer." + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def _subscribe(socket) -> None:  # type: ignore[no-untyped-def]
    socket.send(json.dumps({"subscribe": "packages:probe"}))
    assert json.loads(socket.recv(timeout=10)) == {"subscribed": "packages:probe"}


def test_no_token_reaches_the_server_log(backend: Backend, tmp_path: Path) -> None:
    """Every way of connecting, supported or refused, with the server's whole log captured."""
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(backend, logs).start()
    try:
        base = cluster.urls[0]
        ws_url = base.replace("http://", "ws://") + "/api/ws"
        with connect(ws_url, additional_headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as ws:
            _subscribe(ws)
        # The browser's way: a one-time ticket, offered as a subprotocol beside "bifrost".
        with cluster.client() as client:
            ticket = client.post("/api/ws/ticket").json()["ticket"]
        with connect(ws_url, subprotocols=["bifrost", f"bifrost.ticket.{ticket}"]) as ws:
            assert ws.subprotocol == "bifrost"  # the ticket is not echoed back
            _subscribe(ws)
        # The old ways are refused (the token itself as a subprotocol included, since proxies
        # may log that header), and even then the token does not reach the log.
        for refused in (
            {"uri": f"{ws_url}?token={ADMIN_TOKEN}"},
            {"uri": ws_url, "subprotocols": ["bifrost", _subprotocol(ADMIN_TOKEN)]},
            {"uri": ws_url, "subprotocols": ["bifrost", f"bifrost.ticket.{ticket}"]},  # used
            {"uri": ws_url, "additional_headers": {"Authorization": f"Bearer {ADMIN_TOKEN}x"}},
        ):
            with pytest.raises(InvalidStatus) as closed:
                connect(**refused)
            assert closed.value.response.status_code == 403
        with cluster.client() as client:
            assert client.get("/api/health").status_code == 200
            assert client.get("/api/files").status_code == 200
        for wrong in (ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1]):
            answer = httpx.get(f"{base}/api/files", headers={"Authorization": f"Bearer {wrong}"})
            assert answer.status_code == 401 and wrong not in answer.text  # errors never echo
    finally:
        cluster.stop()
    text = "\n".join(path.read_text(errors="replace") for path in logs.glob("*.log"))
    assert "WebSocket /api/ws" in text  # the log did capture the connections
    for secret in (ADMIN_TOKEN, _subprotocol(ADMIN_TOKEN).removeprefix("bifrost.bearer."), ticket):
        assert secret not in text


def _env_without_token(backend: Backend) -> dict[str, str]:
    env = {**os.environ, **backend.env}
    env.pop("BIFROST_ADMIN_TOKEN")
    return env


def test_a_minted_token_goes_to_the_token_file_not_to_the_log(backend: Backend) -> None:
    """`bifrost init`/`up` under a service manager: stdout and stderr are the log."""
    minted = subprocess.run(
        [BIFROST, "init"], env=_env_without_token(backend), capture_output=True, text=True
    )
    assert minted.returncode == 0, minted.stderr
    token_file = Path(backend.env["BIFROST_DATA_DIR"]).resolve() / "admin-token"
    token = token_file.read_text().strip()
    assert token.startswith("bf_") and len(token) > 40
    assert token_file.stat().st_mode & 0o077 == 0
    output = minted.stdout + minted.stderr
    assert token not in output
    assert f"a new admin token was saved to {token_file}" in output


def test_a_minted_token_is_shown_on_the_terminal_that_asked(tmp_path: Path) -> None:
    """On the embedded back end: the terminal check is the CLI's, whatever the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIFROST_")}
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [BIFROST, "init"],
        env={**env, "BIFROST_DATA_DIR": str(tmp_path / "fresh")},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed when init exited
            break
        if not chunk:
            break
        shown += chunk
    stdout = proc.stdout.read() if proc.stdout else b""
    assert proc.wait(60) == 0
    os.close(leader)
    token = (tmp_path / "fresh" / "admin-token").read_text().strip()
    assert token.encode() in shown
    assert token.encode() not in stdout


def test_a_short_admin_token_is_refused_at_start(tmp_path: Path) -> None:
    """L14: a configured token is hashed without salt; a short one could be guessed.

    The server commands refuse it; client commands (`files`, `run`) load no settings and only
    send the token, which the server then refuses."""
    short = "only-16-chars!!!"
    env = {**os.environ, "BIFROST_DATA_DIR": str(tmp_path / "data"), "BIFROST_ADMIN_TOKEN": short}
    for command in (["up", "--port", "1"], ["init"], ["api", "--port", "1"]):
        started = subprocess.run([BIFROST, *command], env=env, capture_output=True, text=True)
        assert started.returncode == 2, started.stderr
        assert "BIFROST_ADMIN_TOKEN" in started.stderr and "at least 24" in started.stderr
        assert short not in started.stdout + started.stderr


def test_a_shown_token_is_not_coloured_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich would highlight the "0x" of a token like this one as a number, splitting the token
    with colour codes where the terminal shows it (about one token in a hundred)."""
    import io
    import sys

    from rich.console import Console

    from bifrost.cli import server

    terminal = io.StringIO()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(
        server, "err", Console(file=terminal, force_terminal=True, color_system="standard")
    )
    token = "bf_j60xPY44OoCCAak5n4l8tumX-12-AWXnI0"
    server._announce_token(token, Path("/data/admin-token"))
    assert token in terminal.getvalue()
