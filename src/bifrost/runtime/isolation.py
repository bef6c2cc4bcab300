"""Isolation of an execution process: its own process group, fds, streams, confinement, rlimits.

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

from bifrost.runtime import confine

try:
    _LIBC: Any = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not glibc/musl
    _LIBC = None


PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
_CAPABILITY_VERSION_3 = 0x20080522
MAX_TIMEOUT_S = 1e7  # about 115 days: longer timeouts count as this (no float or rlimit overflow)
MAX_SELECT_S = 86400.0  # one wait of the template's loop; select() overflows beyond ~24.8 days


class _Prepared:
    """Objects the template builds once so that a child only rebinds them (fewer COW faults)."""

    stdin: io.TextIOWrapper | None = None
    stdout: io.TextIOWrapper | None = None
    stderr: io.TextIOWrapper | None = None
    handler: logging.Handler | None = None
    template_pid = 0
    slots: confine.Slots | None = None  # None: unconfined (the operator's explicit opt-out)
    tmp_keep: list[str] = []  # paths under /tmp a child's private /tmp must still show


def prepare(slots: confine.Slots | None = None, tmp_keep: list[str] | None = None) -> None:
    """Called in the template: build stream wrappers and the log handler children will use."""
    _Prepared.stdin = open(0, closefd=False)  # noqa: SIM115
    _Prepared.stdout = _text_stream(1)
    _Prepared.stderr = _text_stream(2)
    handler = logging.StreamHandler(_Prepared.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    _Prepared.handler = handler
    _Prepared.template_pid = os.getpid()
    _Prepared.slots = slots
    _Prepared.tmp_keep = list(tmp_keep or ())


def _drop_capabilities() -> None:
    """Unconfined mode only (the opt-out): as root, at least lose every capability, so the kernel
    refuses the non-dumpable supervisor's /proc entries (and exec cannot give them back)."""
    if os.geteuid() != 0:
        return
    with contextlib.suppress(Exception):
        _LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for capability in range(64):  # the bounding set limits what any exec could regain
        if _LIBC.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    if _LIBC.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "could not drop the capabilities of the execution")


def _die_with_parent() -> None:
    """If the template dies, its children must not run on unsupervised (Linux only)."""
    with contextlib.suppress(Exception):
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if _Prepared.template_pid and os.getppid() != _Prepared.template_pid:
        os._exit(70)  # it died before prctl took effect


def isolate(keep_fd: int, log_fd: int, slot: int | None) -> None:
    """In a fresh child: own process group, only ``keep_fd`` open, output to ``log_fd``, then
    confined to ``slot`` (its cgroup, a private /tmp, its uid) unless confinement is off."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    _die_with_parent()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.closerange(3, keep_fd)  # the template's sockets, pidfds and other children's pipes
    os.closerange(keep_fd + 1, 1 << 20)
    if _Prepared.handler is None:
        prepare()
    if _Prepared.slots is not None and slot is not None:
        _Prepared.slots.enter(slot, _Prepared.tmp_keep)
        _die_with_parent()  # a change of uid cleared the death signal
        os.environ["HOME"] = "/tmp"
    else:
        _drop_capabilities()
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
        cpu = math.ceil(min(timeout_s, MAX_TIMEOUT_S) * (os.cpu_count() or 1)) + 1
        soft, hard = _clamp(resource.RLIMIT_CPU, cpu + 1)
        resource.setrlimit(resource.RLIMIT_CPU, (min(cpu, soft), hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, _clamp(resource.RLIMIT_FSIZE, 1 << 30))
