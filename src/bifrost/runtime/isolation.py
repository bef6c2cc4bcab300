"""Isolation of an execution process: its own process group, fds, streams and rlimits.

The template calls :func:`prepare` once, so a forked child only rebinds ready-made objects (fewer
copy-on-write page faults on the critical path). Stdlib only.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import math
import os
import resource
import signal
import sys
from typing import Any

try:
    _LIBC: Any = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not glibc/musl
    _LIBC = None


class _Prepared:
    """Objects the template builds once so that a child only rebinds them (fewer COW faults)."""

    stdin: io.TextIOWrapper | None = None
    stdout: io.TextIOWrapper | None = None
    stderr: io.TextIOWrapper | None = None
    handler: logging.Handler | None = None
    template_pid = 0


def prepare() -> None:
    """Called in the template: build stream wrappers and the log handler children will use."""
    _Prepared.stdin = open(0, closefd=False)  # noqa: SIM115
    _Prepared.stdout = _text_stream(1)
    _Prepared.stderr = _text_stream(2)
    handler = logging.StreamHandler(_Prepared.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    _Prepared.handler = handler
    _Prepared.template_pid = os.getpid()


def _die_with_parent() -> None:
    """If the template dies, its children must not run on unsupervised (Linux only)."""
    with contextlib.suppress(Exception):
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if _Prepared.template_pid and os.getppid() != _Prepared.template_pid:
        os._exit(70)  # it died before prctl took effect


def isolate(keep_fd: int, log_fd: int) -> None:
    """In a fresh child: own process group, only ``keep_fd`` open, output to ``log_fd``."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    _die_with_parent()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.closerange(3, keep_fd)  # the template's sockets, pidfds and other children's memfds
    os.closerange(keep_fd + 1, 1 << 20)
    if _Prepared.handler is None:
        prepare()
    sys.stdin, sys.stdout, sys.stderr = _Prepared.stdin, _Prepared.stdout, _Prepared.stderr
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(_Prepared.handler)  # type: ignore[arg-type]
    root.setLevel(logging.INFO)


def _text_stream(fd: int) -> io.TextIOWrapper:
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", write_through=True)


def _clamp(limit: int, wanted: int) -> tuple[int, int]:
    _soft, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    return wanted, wanted


def set_limits(timeout_s: float, memory_mb: int) -> None:
    """Address space, CPU time (a backstop for the wall-clock kill), no core dumps, file size."""
    if memory_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, _clamp(resource.RLIMIT_AS, memory_mb << 20))
    if timeout_s > 0:  # CPU seconds across all threads: allow every core for the whole wall time
        cpu = math.ceil(timeout_s * (os.cpu_count() or 1)) + 1
        soft, hard = _clamp(resource.RLIMIT_CPU, cpu + 1)
        resource.setrlimit(resource.RLIMIT_CPU, (min(cpu, soft), hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, _clamp(resource.RLIMIT_FSIZE, 1 << 30))
