"""Latency of a remote edit reaching a worker: GitHub commit -> sync -> the next execution sees it.

A real `bifrost up` (its scheduler role runs automatic sync) against the fake GitHub. A workflow
imports ``shared/value.py``; each sample commits a new ``VALUE`` on the branch, then executes the
workflow over the API again and again until one returns the new value. Measured from the moment
the commit is on the branch to that execution's answer:

- webhook: the push delivery (signed, as GitHub sends it) is posted at once; the poll interval is
  an hour, so only the webhook can bring the edit. Target: under 2 s;
- polling only: no webhook; the daemon polls every ``--poll-interval`` seconds (1 call per idle
  poll: the ref answers 304), so the expected latency is about half the interval plus a sync.

    .venv/bin/python -m bench.sync_latency [--samples 10] [--poll-interval 5]
        [--backend embedded|postgres|both]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import statistics
import time

import httpx

from bench.common import TOKEN, Backend, percentile, stop, wait_healthy
from bench.github import fake_github
from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.conftest import FAKE_LOGIN
from tests.servers import free_port

REPOSITORY = f"{FAKE_LOGIN}/latency"
SECRET = "bench-webhook-secret"
WORKFLOW = """from bifrost import workflow
from shared.value import VALUE


@workflow
def answer():
    return VALUE
"""
EXECUTE_PAUSE_S = 0.01


def value_module(value: int) -> str:
    return f"VALUE = {value}\n"


def signed(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def push_body(after: str) -> bytes:
    return json.dumps(
        {"ref": "refs/heads/main", "after": after, "repository": {"full_name": REPOSITORY}}
    ).encode()


class Deployment:
    def __init__(self, http: httpx.Client, fake: FakeGitHub) -> None:
        self.http = http
        self.fake = fake
        self.workflow_id = ""

    def first_sync(self) -> None:
        self.http.post(
            "/api/github/configure",
            json={"repository": REPOSITORY, "branch": "main", "token": self.fake.token},
        ).raise_for_status()
        job_id = self.http.post("/api/github/sync", json={}).json()["job_id"]
        while self.http.get(f"/api/jobs/{job_id}").json()["status"] not in ("success", "failed"):
            time.sleep(0.05)
        found = self.http.get("/api/workflows").json()["items"]
        self.workflow_id = next(w["id"] for w in found if w["function_name"] == "answer")

    def execute(self) -> object:
        answer = self.http.post(f"/api/workflows/{self.workflow_id}/execute", json={})
        body = answer.json()
        return body.get("result") if body.get("status") == "success" else None

    def sample(self, value: int, *, webhook: bool, timeout_s: float, jitter_s: float) -> float:
        """``jitter_s``: a random pause first, so polling samples do not all start right after
        the poll that ended the previous one."""
        time.sleep(random.uniform(0, jitter_s))
        sha = self.fake.commit(REPOSITORY, {"shared/value.py": value_module(value)})
        started = time.perf_counter()
        if webhook:
            body = push_body(sha)
            headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signed(body)}
            self.http.post("/api/github/webhook", content=body, headers=headers)
        while self.execute() != value:
            if time.perf_counter() - started > timeout_s:
                raise TimeoutError(f"value {value} did not arrive in {timeout_s} s")
            time.sleep(EXECUTE_PAUSE_S)
        return time.perf_counter() - started


def run(kind: str, *, webhook: bool, samples: int, poll_interval: float) -> list[float]:
    with fake_github() as fake:
        fake.create_repo(REPOSITORY)
        fake.commit(REPOSITORY, {"workflows/answer.py": WORKFLOW, "shared/value.py": "VALUE = 0\n"})
        backend = Backend(kind)
        backend.env.update(
            BIFROST_GITHUB_API_URL=fake.url,
            BIFROST_GITHUB_WEBHOOK_SECRET=SECRET,
            BIFROST_SYNC_INTERVAL_S="3600" if webhook else str(poll_interval),
        )
        port = free_port()
        proc = backend.spawn("up", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
                deployment = Deployment(http, fake)
                deployment.first_sync()
                assert deployment.execute() == 0
                timeout = 30.0 if webhook else poll_interval * 3 + 30
                return [
                    deployment.sample(
                        i,
                        webhook=webhook,
                        timeout_s=timeout,
                        jitter_s=0 if webhook else poll_interval,
                    )
                    for i in range(1, samples + 1)
                ]
        finally:
            stop(proc)
            backend.close()


def report(kind: str, mode: str, seconds: list[float]) -> None:
    print(
        f"{kind:9} {mode:13} median {statistics.median(seconds):6.2f} s   "
        f"p90 {percentile(seconds, 90):6.2f} s   max {max(seconds):6.2f} s   "
        f"({len(seconds)} samples)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--backend", choices=["embedded", "postgres", "both"], default="both")
    args = parser.parse_args()
    kinds = ["embedded", "postgres"] if args.backend == "both" else [args.backend]
    for kind in kinds:
        hooked = run(kind, webhook=True, samples=args.samples, poll_interval=args.poll_interval)
        report(kind, "webhook", hooked)
        polled = run(kind, webhook=False, samples=args.samples, poll_interval=args.poll_interval)
        report(kind, f"poll {args.poll_interval:g} s", polled)
        if statistics.median(hooked) >= 2.0:
            print(f"  {kind}: webhook latency over the 2 s target")


if __name__ == "__main__":
    main()
