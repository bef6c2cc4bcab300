"""Nothing is read before it is authorized, and nothing the API takes in is unbounded (review H3,
M4, M5, L11), staged against real servers on both back ends."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.serving import BIFROST, Cluster, list_all
from tests.test_http import execute, put, save_hello, workflow_id

MIB = 1024 * 1024


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _unauthenticated_post(url: str, path: str, size: int) -> bytes:
    """POST a valid JSON body of ``size`` bytes without a token; returns the status line."""
    parts = urlsplit(url)
    body = b'{"parameters": {"x": "' + b"a" * (size - 27) + b'"}}'
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)

    def send_body() -> None:
        with contextlib.suppress(OSError):  # the server answered without reading it: the point
            sock.sendall(head + body)

    sender = threading.Thread(target=send_body)
    sender.start()
    try:
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    finally:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        sender.join(30)
    return answer.split(b"\r\n", 1)[0]


def test_an_unauthenticated_body_is_never_read(cluster: Cluster) -> None:
    """H3: 64 MiB of JSON without a token is answered 401 and never buffered."""
    with cluster.client() as client:
        wid = save_hello(client)
    pid = cluster.processes[0].pid
    before = _peak_rss_kib(pid)
    for path in (f"/api/workflows/{wid}/execute", "/api/packages/install", "/api/files/rename"):
        status = _unauthenticated_post(cluster.urls[0], path, 64 * MIB)
        assert status.startswith(b"HTTP/1.1 401"), (path, status)
    grown_mib = (_peak_rss_kib(pid) - before) / 1024
    assert grown_mib < 16, f"the API's peak memory grew by {grown_mib:.0f} MiB"


def test_json_bodies_have_a_size_limit(cluster: Cluster) -> None:
    with cluster.client() as client:
        wid = save_hello(client)
        big = json.dumps({"parameters": {"name": "x" * (2 * MIB)}}).encode()
        headers = {"Content-Type": "application/json"}
        declared = client.post(f"/api/workflows/{wid}/execute", content=big, headers=headers)
        assert declared.status_code == 413
        assert "BIFROST_MAX_REQUEST_BYTES" in declared.json()["detail"]
        chunked = client.post(
            f"/api/workflows/{wid}/execute",
            content=iter([big[i : i + 65536] for i in range(0, len(big), 65536)]),
            headers=headers,
        )
        assert chunked.status_code == 413, chunked.text
        assert list_all(client, "/api/executions") == []


def _nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def test_deep_or_huge_or_non_finite_parameters_are_refused_and_not_stored(
    cluster: Cluster,
) -> None:
    """M5: 900-deep parameters once broke GET /api/executions for everyone."""
    with cluster.client() as client:
        put(
            client,
            "workflows/echo.py",
            b"from bifrost import workflow\n\n@workflow\ndef echo(**data):\n    return data\n",
        )
        wid = workflow_id(client, "echo")
        url = f"/api/workflows/{wid}/execute"
        for parameters, fragment in [
            ({"x": _nested(900)}, "BIFROST_MAX_PARAMETER_DEPTH"),
            ({"x": _nested(32)}, "BIFROST_MAX_PARAMETER_DEPTH"),
            ({"x": "y" * (300 * 1024)}, "BIFROST_MAX_PARAMETERS_BYTES"),
        ]:
            refused = client.post(url, json={"parameters": parameters})
            assert refused.status_code == 422, refused.text
            assert fragment in refused.json()["detail"]
        for literal in (b"NaN", b"Infinity", b"-Infinity"):
            body = b'{"parameters": {"x": [1, ' + literal + b"]}}"
            refused = client.post(url, content=body, headers={"Content-Type": "application/json"})
            assert refused.status_code == 422, refused.text
            assert "parameters.x[1]" in refused.json()["detail"]
        listing = client.get("/api/executions", params={"limit": 1})
        assert listing.status_code == 200  # and nothing was stored:
        assert listing.json() == {"items": [], "next_cursor": None}
        ran = execute(client, wid, x=_nested(30))
        assert ran["status"] == "success" and ran["result"] == {"x": _nested(30)}
        assert client.get("/api/executions").status_code == 200


TIMEOUTS = b"""from bifrost import workflow


@workflow(timeout=1e9)
def nine():
    return 9


@workflow(timeout=1e20)
def twenty():
    return 20


@workflow(timeout=1e308)
def huge():
    return 308


@workflow(timeout=1e309)
def infinite():
    return 309


@workflow(timeout=86400)
def one_day():
    return 1
"""


def test_timeouts_are_capped_before_the_template_sees_them(cluster: Cluster) -> None:
    """M4: timeout=1e9 crashed the template and every run beside it."""
    with cluster.client() as client:
        put(client, "workflows/timeouts.py", TIMEOUTS)
        for name in ("nine", "twenty", "huge"):
            refused = client.post(f"/api/workflows/{workflow_id(client, name)}/execute", json={})
            assert refused.status_code == 422, (name, refused.text)
            assert "BIFROST_MAX_EXECUTION_TIMEOUT_S" in refused.json()["detail"]
        assert list_all(client, "/api/executions") == []
        assert execute(client, workflow_id(client, "one_day"))["result"] == 1
        # 1e309 is not a number JSON can hold: the option is not recorded, the default applies.
        assert execute(client, workflow_id(client, "infinite"))["result"] == 309
        hello = execute(client, save_hello(client))
        assert hello["status"] == "success", hello  # the template never crashed


TYPED = b"""from bifrost import workflow


@workflow
def typed(port: int, ratio: float = 1.0, name: str | None = None, flag: bool = False, raw=None):
    return [port, ratio, name, flag, raw]
"""


def test_parameters_are_checked_against_simple_annotations(cluster: Cluster) -> None:
    """L11: {"port": "not-an-int"} used to run."""
    with cluster.client() as client:
        put(client, "workflows/typed.py", TYPED)
        url = f"/api/workflows/{workflow_id(client, 'typed')}/execute"
        for parameters, fragment in [
            ({"port": "not-an-int"}, "'port' is annotated int"),
            ({"port": True}, "'port' is annotated int"),
            ({"port": 1, "ratio": "fast"}, "'ratio' is annotated float"),
            ({"port": 1, "name": 5}, "'name' is annotated str | None"),
            ({"port": 1, "flag": 1}, "'flag' is annotated bool"),
            ({"port": 1, "other": 1}, "takes no parameter 'other'"),
            ({}, "needs the parameters: port"),
        ]:
            refused = client.post(url, json={"parameters": parameters})
            assert refused.status_code == 422, (parameters, refused.text)
            assert fragment in refused.json()["detail"], refused.json()
        assert list_all(client, "/api/executions") == []
        ran = client.post(
            url, json={"parameters": {"port": 8, "ratio": 2, "name": None, "raw": {"a": [1]}}}
        ).json()
        assert ran["result"] == [8, 2, None, False, {"a": [1]}], ran


def _refused_at_start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "BIFROST_DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(
        [BIFROST, "up", "--port", "1"], env=full, capture_output=True, text=True, timeout=60
    )


def test_a_default_timeout_above_the_maximum_is_refused_at_start(tmp_path: Path) -> None:
    started = _refused_at_start(tmp_path, BIFROST_EXECUTION_TIMEOUT_S="1e9")
    assert started.returncode == 2, started.stderr
    assert "BIFROST_EXECUTION_TIMEOUT_S" in started.stderr
    assert "BIFROST_MAX_EXECUTION_TIMEOUT_S" in started.stderr
    assert "Traceback" not in started.stderr
    for bad in ("inf", "nan"):
        assert _refused_at_start(tmp_path, BIFROST_EXECUTION_TIMEOUT_S=bad).returncode == 2


def test_unauthenticated_requests_never_reach_a_route(cluster: Cluster) -> None:
    """Even unknown /api/ paths and bodies that would not parse are a 401 first."""
    base = cluster.urls[0]
    for method, path in [("POST", "/api/nothing-here"), ("POST", "/api/files/rename")]:
        response = httpx.request(method, base + path, content=b"{not json")
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
