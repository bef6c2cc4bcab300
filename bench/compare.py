"""Before and after issue 7: the same measurements on an older commit and on this tree, in one run.

The older commit is checked out into a temporary git worktree with its own venv (removed at the
end). Measurements alternate between the two trees (before, now, now, before, ...) so that the
load of a shared machine falls on both alike:

- warm virtual import (``bench.runtime.bench_imports``, run by each tree's own code);
- ``bifrost worker`` until its heartbeat is in Redis (``bench.worker_start.time_worker``);
- ``bifrost up`` until healthy on SQLite (``bench.worker_start.time_up``);
- end to end through the HTTP API, p50 and p99 (``bench.e2e_latency.measure``), both back ends.

    .venv/bin/python -m bench.compare [--before c22d8eb] [--rounds 5] [--runs 300]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bench.common import BIFROST, ROOT, Backend
from bench.e2e_latency import measure
from bench.worker_start import time_up, time_worker

# The parent of 28343f2, issue 7's first commit (the move into workspace/, worker/, store/reader).
BEFORE = "c22d8eb"
UV = str(Path(sys.executable).with_name("uv"))
IMPORT_LINE = re.compile(r"virtual import \(code cache warm\):\s+([\d.]+)")


class Tree:
    """A checkout and the ``bifrost`` executable and interpreter of its venv."""

    def __init__(self, label: str, root: Path, python: str, bifrost: str) -> None:
        self.label, self.root, self.python, self.bifrost = label, root, python, bifrost


def checkout(sha: str) -> Tree:
    """A detached worktree of ``sha`` with its own venv, installed as ``make install`` does."""
    full = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", sha],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    root = Path(f"/tmp/bifrost-before-{full}")
    if not root.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(root), full],
            check=True,
            capture_output=True,
        )
    venv = root / ".venv"
    if not (venv / "bin" / "bifrost").exists():
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                UV,
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",
                "--python",
                str(venv / "bin" / "python"),
                "-e",
                f"{root}[test]",
            ],
            check=True,
        )
    return Tree(
        f"before ({full})", root, str(venv / "bin" / "python"), str(venv / "bin" / "bifrost")
    )


def remove(tree: Tree) -> None:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree.root)],
        check=False,
        capture_output=True,
    )
    shutil.rmtree(tree.root, ignore_errors=True)


def import_us(tree: Tree) -> float:
    """Median warm virtual import, in µs, measured by the tree's own ``bench.runtime``."""
    out = subprocess.run(
        [tree.python, "-c", "from bench.runtime import bench_imports; bench_imports()"],
        cwd=tree.root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = IMPORT_LINE.search(out)
    if match is None:
        raise RuntimeError(f"no import figure from {tree.label}: {out!r}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=300, help="sequential runs per e2e sample")
    parser.add_argument("--keep", action="store_true", help="keep the before worktree")
    args = parser.parse_args()
    now = Tree("now", ROOT, sys.executable, BIFROST)
    before = checkout(args.before)
    backends = {
        (t.label, kind): Backend(kind, t.bifrost)
        for t in (before, now)
        for kind in ("postgres", "embedded")
    }
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)

    def e2e(kind: str, tree: Tree) -> dict[str, float]:
        return measure(kind, args.runs, 0.0, 1, bifrost=tree.bifrost)

    measures: list[tuple[str, Callable[[Tree], dict[str, float]]]] = [
        ("import", lambda t: {"virtual import µs": import_us(t)}),
        ("worker", lambda t: {"worker start ms": time_worker(backends[t.label, "postgres"]) * 1e3}),
        ("up", lambda t: {"up until healthy ms": time_up(backends[t.label, "embedded"]) * 1e3}),
        (
            "e2e-embedded",
            lambda t: {
                f"e2e embedded {k} ms": v
                for k, v in e2e("embedded", t).items()
                if k in ("p50", "p99")
            },
        ),
        (
            "e2e-postgres",
            lambda t: {
                f"e2e postgres {k} ms": v
                for k, v in e2e("postgres", t).items()
                if k in ("p50", "p99")
            },
        ),
    ]
    try:
        for tree in (before, now):  # first starts pay for cold OS caches; not counted
            time_worker(backends[tree.label, "postgres"])
            time_up(backends[tree.label, "embedded"])
        for round_ in range(args.rounds):
            order = (before, now) if round_ % 2 == 0 else (now, before)
            for _, run in measures:
                for tree in order:
                    for name, value in run(tree).items():
                        samples[name, tree.label].append(value)
            print(
                f"round {round_ + 1}/{args.rounds} done {time.strftime('%H:%M:%S')}",
                file=sys.stderr,
                flush=True,
            )
        names = list(dict.fromkeys(name for name, _ in samples))
        print(
            f"{'median of ' + str(args.rounds) + ' rounds':<24} {before.label:>18} {'now':>10}"
            f" {'now/before':>11}"
        )
        for name in names:
            b = statistics.median(samples[name, before.label])
            n = statistics.median(samples[name, now.label])
            print(f"{name:<24} {b:>18.2f} {n:>10.2f} {n / b:>11.2f}")
    finally:
        for backend in backends.values():
            backend.close()
        if not args.keep:
            remove(before)


if __name__ == "__main__":
    main()
