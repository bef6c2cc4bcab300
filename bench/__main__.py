"""Run every benchmark in turn: ``python -m bench`` (or ``make bench``). Never part of the tests."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = [
    ("import speed and executor round trip", ["-m", "bench.runtime"]),
    ("worker start, 100 vs 10,000 files", ["-m", "bench.worker_start"]),
    ("end-to-end latency through the API", ["-m", "bench.e2e_latency"]),
    ("round trips per execution: SQL statements, Redis commands", ["-m", "bench.round_trips"]),
    ("a one-file change reaching the template: delta vs manifest", ["-m", "bench.template_update"]),
    ("side by side with the peers: RQ and Celery", ["-m", "bench.peers"]),
    ("per-run cost of confinement vs unconfined", ["-m", "bench.confinement"]),
    ("worker start with 10 requirements vs pip", ["bench/packages_start.py"]),
    ("4,000 files in one unit of work vs one-file writes", ["-m", "bench.files_unit"]),
    ("CLI client commands: old import path vs new", ["-m", "bench.cli"]),
    ("paged listings at 10,000 files: one page vs the whole list", ["-m", "bench.paging"]),
    ("staged package installs vs uv in place", ["-m", "bench.packages_install"]),
    ("before and after issue 7, interleaved", ["-m", "bench.compare"]),
    ("GitHub sync at 4,000 files: API calls and time", ["-m", "bench.github"]),
    ("remote edit to a worker: webhook vs polling", ["-m", "bench.sync_latency"]),
]


def main() -> int:
    failed = 0
    for title, args in BENCHMARKS:
        print(f"\n== {title}", flush=True)
        failed += subprocess.run([sys.executable, *args]).returncode != 0
    return failed


if __name__ == "__main__":
    sys.exit(main())
