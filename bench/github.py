"""GitHub sync at 4,000 files: API calls and time of each step, through a real `bifrost up`.

Against the fake GitHub (a subprocess, as the tests start it), over HTTP only; each step's GitHub
requests are counted from the fake's request log (``/_fake/requests``). Targets:

- the first pull into an empty workspace: at most 10 calls (the tarball), under 5 s;
- a preview with nothing changed: 1 call (the ref answers 304);
- a preview after 100 remote edits: 3 calls (ref, commit, tree);
- a push of 500 changed text files: 3 write calls (tree, commit, ref), plus 1 per binary file.

    .venv/bin/python -m bench.github [--files 4000] [--backend embedded|postgres|both]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import TOKEN, Backend, stop, wait_healthy
from bifrost.testing.fake_github.control import FakeGitHub, FileSpec
from bifrost.testing.fake_github.process import running_fake_github
from tests.github.conftest import FAKE_LOGIN, FAKE_TOKEN
from tests.servers import free_port

REPOSITORY = f"{FAKE_LOGIN}/bench"
WRITES = {"POST", "PATCH", "PUT", "DELETE"}
JOB_POLL_S = 0.02


def module(i: int, version: int) -> str:
    """A helper module of about 1 KB (no workflow: a preview reads no blob for it)."""
    body = "".join(f"def f{n}(x):\n    return x * {n} + {version}\n\n" for n in range(24))
    return f'"""Module {i}, version {version}."""\n\nVALUE = {i}\n\n{body}'


def note(i: int, version: int) -> str:
    return f"# Note {i}\n\nversion {version}\n" + "Lorem ipsum dolor sit amet. " * 20 + "\n"


def binary(i: int, version: int) -> bytes:
    return bytes((i * 7 + version + n) % 256 for n in range(2048))  # NUL bytes: binary


def paths(files: int) -> tuple[list[str], list[str], list[str]]:
    """(modules, notes, binaries): 75 %, 22.5 % and 2.5 % of ``files``."""
    binaries = max(10, files // 40)
    notes = (files - binaries) * 23 // 100
    modules = files - binaries - notes
    return (
        [f"lib/pkg{i // 100:02d}/mod{i:04d}.py" for i in range(modules)],
        [f"docs/note{i:04d}.md" for i in range(notes)],
        [f"assets/blob{i:03d}.bin" for i in range(binaries)],
    )


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    """The fake GitHub started as the tests start it, its repositories in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="bifrost-bench-fakegh-") as tmp:
        log_path = Path(tmp) / "fake.log"
        with running_fake_github(Path(tmp) / "data", log_path, FAKE_TOKEN, FAKE_LOGIN) as fake:
            yield fake


@dataclass
class Step:
    title: str
    seconds: float
    calls: Counter  # (method, path shape) -> count
    target: str

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def writes(self) -> int:
        return sum(n for (method, _), n in self.calls.items() if method in WRITES)


def shape(path: str) -> str:
    """A request path with its SHAs, refs and file paths folded, to group the calls."""
    parts = path.strip("/").split("/")
    if parts[:1] == ["repos"] and len(parts) > 4:
        return "/" + "/".join(["repos", "{repo}", *parts[3:5]]) + ("/..." if len(parts) > 5 else "")
    return "/" + "/".join(parts[:3])


class Bench:
    def __init__(self, url: str, fake: FakeGitHub) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600
        )
        self.fake = fake

    def measured(self, title: str, target: str, action: Callable[[], Any]) -> tuple[Step, Any]:
        self.fake.reset_requests()
        started = time.perf_counter()
        value = action()
        seconds = time.perf_counter() - started
        calls = Counter((r["method"], shape(r["path"])) for r in self.fake.requests())
        return Step(title, seconds, calls, target), value

    def preview(self) -> dict[str, Any]:
        answer = self.http.get("/api/github/sync")
        answer.raise_for_status()
        return answer.json()

    def sync(self) -> dict[str, Any]:
        """POST /api/github/sync and wait for the job; its result."""
        answer = self.http.post(
            "/api/github/sync", json={"conflict_resolutions": {}, "confirm_orphans": True}
        )
        answer.raise_for_status()
        job_id = answer.json()["job_id"]
        while True:
            job = self.http.get(f"/api/jobs/{job_id}").json()
            if job["status"] == "success":
                return job["result"]
            if job["status"] == "failed":
                raise RuntimeError(f"the sync failed: {job['error']}")
            time.sleep(JOB_POLL_S)

    def put(self, files: dict[str, bytes]) -> None:
        for path, content in files.items():
            self.http.put(f"/api/files/{path}", content=content).raise_for_status()


def run(kind: str, files: int) -> list[Step]:
    modules, notes, binaries = paths(files)
    with fake_github() as fake:
        fake.create_repo(REPOSITORY)
        start: dict[str, FileSpec] = {p: module(i, 1) for i, p in enumerate(modules)}
        start.update((p, note(i, 1)) for i, p in enumerate(notes))
        start.update((p, binary(i, 1)) for i, p in enumerate(binaries))
        fake.commit(REPOSITORY, start, message="4,000 files")

        backend = Backend(kind)
        backend.env["BIFROST_GITHUB_API_URL"] = fake.url
        backend.env["BIFROST_SYNC_AUTO"] = "false"  # only the bench's own calls are counted
        port = free_port()
        proc = backend.spawn("up", "--port", str(port))
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url)
            bench = Bench(url, fake)
            bench.http.post(
                "/api/github/configure",
                json={"repository": REPOSITORY, "branch": "main", "token": FAKE_TOKEN},
            ).raise_for_status()
            steps = []

            step, result = bench.measured("first pull, empty workspace", "<= 10, < 5 s", bench.sync)
            assert result["pulled"] == files, result
            steps.append(step)

            step, plan = bench.measured("preview, nothing changed", "1", bench.preview)
            assert plan["is_empty"], plan
            steps.append(step)

            edited = notes[:100]
            fake.commit(REPOSITORY, {p: note(i, 2) for i, p in enumerate(edited)})
            step, plan = bench.measured("preview, 100 remote edits", "3", bench.preview)
            assert len(plan["to_pull"]) == len(edited), plan
            steps.append(step)
            step, result = bench.measured("pull of the 100 edits", "-", bench.sync)
            steps.append(step)

            bench.put({p: module(i, 2).encode() for i, p in enumerate(modules[:500])})
            step, result = bench.measured("push, 500 text files", "3 writes", bench.sync)
            assert result["pushed"] == 500, result
            steps.append(step)
            assert fake.files(REPOSITORY)[modules[499]].content == module(499, 2).encode()

            changed = binaries[:10]
            bench.put({p: binary(i, 2) for i, p in enumerate(changed)})
            step, result = bench.measured("push, 10 binary files", "13 writes", bench.sync)
            assert result["pushed"] == len(changed), result
            steps.append(step)
            return steps
        finally:
            stop(proc)
            backend.close()


def report(kind: str, steps: list[Step], verbose: bool) -> None:
    print(f"{kind}: {'step':<30} {'time':>8} {'calls':>6} {'writes':>7}   target")
    for step in steps:
        print(
            f"{'':<{len(kind)}}  {step.title:<30} {step.seconds:>7.2f}s {step.total:>6} "
            f"{step.writes:>7}   {step.target}"
        )
        if verbose:
            for (method, path), count in sorted(step.calls.items()):
                print(f"{'':<{len(kind) + 6}}{count:>4} x {method} {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4000)
    parser.add_argument("--backend", choices=("embedded", "postgres", "both"), default="both")
    parser.add_argument("--calls", action="store_true", help="list each step's GitHub calls")
    args = parser.parse_args()
    kinds = ("embedded", "postgres") if args.backend == "both" else (args.backend,)
    print(f"{args.files} files in {REPOSITORY} on the fake GitHub")
    for kind in kinds:
        report(kind, run(kind, args.files), args.calls)


if __name__ == "__main__":
    main()
