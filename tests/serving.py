"""Real servers for HTTP tests: `bifrost up`, or separate `bifrost api`, `bifrost worker` and
`bifrost scheduler` processes."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN, Backend, free_port

BIFROST = str(Path(sys.executable).with_name("bifrost"))
# One TLS context for every client here (they speak plain HTTP to loopback): httpx makes a new one,
# 25 ms of CPU loading the CA bundle, for each client that is not handed one.
TLS = ssl.create_default_context()


def list_all(client: httpx.Client, url: str, **params: object) -> list[dict]:
    """Every item of a paged listing (/api/files, /api/workflows, /api/executions), cursor by
    cursor, so a test never checks only the first page."""
    found: list[dict] = []
    while True:
        answer = client.get(url, params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found += page["items"]
        if page["next_cursor"] is None:
            return found
        params["cursor"] = page["next_cursor"]


@dataclass
class Cluster:
    """The processes of one Bifrost deployment and clients for its API processes.

    ``own_data_dirs``: every process (and `bifrost init`) gets a data directory of its own, as on
    machines that share no disk; they then share only the database, Redis and the object store
    (the secret key must be given to all: no process may make its own in its directory)."""

    backend: Backend
    log_dir: Path
    own_data_dirs: bool = False
    processes: list[subprocess.Popen] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    data_dirs: list[Path] = field(default_factory=list)

    def _env(self, name: str, extra_env: dict[str, str] | None) -> dict[str, str]:
        env = {**os.environ, **self.backend.env, **(extra_env or {})}
        if self.own_data_dirs:
            if "BIFROST_SECRET_KEY" not in env:
                raise ValueError("own_data_dirs needs one BIFROST_SECRET_KEY for every process")
            data_dir = self.log_dir.parent / f"data-{name}-{len(self.data_dirs)}"
            data_dir.mkdir()
            self.data_dirs.append(data_dir)
            env["BIFROST_DATA_DIR"] = str(data_dir)
        return env

    def _spawn(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
        env = self._env(name, extra_env)
        log = open(self.log_dir / f"{name}-{len(self.processes)}.log", "wb")  # noqa: SIM115
        self.processes.append(
            subprocess.Popen([BIFROST, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        )

    def start(self, *, apis: int = 1, workers: int = 0, extra_env: dict[str, str] | None = None):
        """Embedded: one `bifrost up`. Distributed: `bifrost init`, then APIs, workers and one
        scheduler."""
        if self.backend.name == "embedded" or workers == 0:
            port = free_port()
            self._spawn("up", "up", "--port", str(port), extra_env=extra_env)
            self.urls.append(f"http://127.0.0.1:{port}")
        else:
            env = self._env("init", extra_env)
            subprocess.run([BIFROST, "init"], env=env, check=True, capture_output=True)
            for _ in range(apis):
                port = free_port()
                self._spawn("api", "api", "--port", str(port), extra_env=extra_env)
                self.urls.append(f"http://127.0.0.1:{port}")
            self._spawn("scheduler", "scheduler", extra_env=extra_env)
            for _ in range(workers):  # last: tests find workers at the end of `processes`
                self._spawn("worker", "worker", extra_env=extra_env)
        self.wait_ready(min_workers=max(workers, 1))
        return self

    def wait_ready(self, min_workers: int = 1, timeout: float = 60.0) -> None:
        """Until every API's health lists ``min_workers`` workers; one client for all the polls
        (``httpx.get`` would make one per poll, see ``TLS``)."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2, verify=TLS) as poller:
            for url in self.urls:
                while True:
                    self._check_alive()
                    try:
                        body = poller.get(f"{url}/api/health").json()
                        if len(body["workers"]) >= min_workers:
                            break
                    except (httpx.HTTPError, ValueError, KeyError):
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"{url} not ready; logs in {self.log_dir}:\n{self.logs()}"
                        )
                    time.sleep(0.05)

    def _check_alive(self) -> None:
        for proc in self.processes:
            if proc.poll() is not None:
                raise RuntimeError(f"a server process exited ({proc.returncode}):\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )

    def client(self, index: int = 0) -> httpx.Client:
        return httpx.Client(
            base_url=self.urls[index % len(self.urls)],
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
            verify=TLS,
        )

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
