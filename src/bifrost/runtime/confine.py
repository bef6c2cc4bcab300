"""Kernel confinement of untrusted processes: executions and package builds use this one module.

A confined process sees a *view* of the file system (its own mount namespace) in which the
directories it must not reach (root's home, the data directory) are empty tmpfs mounts, with only
what it needs bound back read-only (the Python installation, the package directory) or read-write
(a build's target). It gets a private ``/tmp`` and ``/dev/shm``, runs as an unprivileged uid of
its own *slot* (no capabilities, ``no_new_privs``, not dumpable), and lives in a per-slot cgroup
that bounds its processes and memory and lets the parent kill everything it started, however it
detached (``setsid`` plus a double fork included).

The view is set up once per template (a fork inherits it); a child then only pays for its private
``/tmp`` (a mount namespace copy and a tmpfs), joining its cgroup (as a single thread, so without
the kernel's RCU wait, see :meth:`Cgroups.join`) and the uid switch, and a spare pays even that
before a request arrives. If the kernel lacks something, :class:`Unavailable` says
what; nothing silently runs weaker. Stdlib only: it runs in the template and the build launcher.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import json
import os
import resource
import signal
import stat
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

CLONE_NEWNS, CLONE_NEWIPC = 0x00020000, 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV = 1, 2, 4
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
O_PATH = getattr(os, "O_PATH", 0o10000000)

SLOTS_PER_RANGE = 256  # uids (and cgroups) one template may use at once
RANGES = 255  # templates and launchers on one machine at once; the last range is for builds
HIDDEN_TMP_DIRS = ("/var/tmp", "/run/lock")  # world-writable, shared between runs: hidden


class Unavailable(RuntimeError):
    """The kernel or the process lacks something confinement needs; the message names it."""


@dataclasses.dataclass(frozen=True)
class Policy:
    """What a confined process may reach. Paths are absolute; see the module docstring."""

    hide: tuple[str, ...] = ("/root",)  # replaced by an empty tmpfs
    keep: tuple[str, ...] = ()  # bound back read-only (Python, packages, the Bifrost install)
    write: tuple[str, ...] = ()  # bound back read-write and owned by the slot's uid meanwhile
    uid_base: int = 2_000_000_000
    pids_max: int = 256
    memory_mb: int = 1024
    scratch_mb: int = 512

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Policy:
        raw = json.loads(text)
        for key in ("hide", "keep", "write"):
            raw[key] = tuple(raw.get(key) or ())
        return cls(**raw)


def python_paths() -> list[str]:
    """What this interpreter needs to start and import the stdlib and Bifrost."""
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)]
    found.append(os.path.dirname(os.path.realpath(sys.executable)))
    found += [p for p in sys.path if p and os.path.isabs(p)]
    return found


# -- libc ------------------------------------------------------------------------------------------
_LIBC: Any = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _LIBC.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _unshare_mounts(flags: int = 0) -> None:
    _check(_LIBC.unshare(CLONE_NEWNS | flags), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the host


def _prctl(option: int, value: int) -> None:
    _check(_LIBC.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


# -- the view ----------------------------------------------------------------------------------
def _outermost(paths: Iterable[str], existing: bool = True) -> list[str]:
    """(Existing) real paths, without those inside another one of the list."""
    real = sorted({os.path.realpath(p) for p in paths if p and (os.path.exists(p) or not existing)})
    out: list[str] = []
    for path in real:
        if not any(path == o or path.startswith(o.rstrip("/") + "/") for o in out):
            out.append(path)
    return out


def _inside(path: str, dirs: Iterable[str]) -> bool:
    return any(path.startswith(d.rstrip("/") + "/") for d in dirs)


def _mountpoint(path: str, like: int) -> None:
    """An empty directory or file at ``path`` (inside a fresh tmpfs) to bind onto."""
    if stat.S_ISDIR(like):
        os.makedirs(path, mode=0o755, exist_ok=True)
        return
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _finish_binds(opened: list[tuple[int, str, bool]]) -> None:
    """Bind each path onto itself from a descriptor opened before it was hidden (the magic
    /proc/self/fd link still names the covered directory)."""
    for fd, path, writable in opened:
        try:
            if not os.path.exists(path):
                _mountpoint(path, os.fstat(fd).st_mode)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            if not writable:
                _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        finally:
            os.close(fd)


def _tmpfs(path: str, mode: int, size_mb: int) -> None:
    _mount("bifrost", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode:o},size={size_mb}m")


def enter_view(policy: Policy) -> None:
    """Give this process (and what it forks) its own view: hidden dirs empty, keeps read-only."""
    hide = _outermost([*policy.hide, *HIDDEN_TMP_DIRS])
    keep = _outermost(policy.keep)
    write = [os.path.realpath(p) for p in policy.write]
    _unshare_mounts()
    # Keeps outside hidden dirs are made read-only in place; inside, they are bound back.
    binds = [(p, False) for p in keep] + [(p, True) for p in write if os.path.exists(p)]
    opened = [(os.open(p, O_PATH | os.O_CLOEXEC), p, w) for p, w in binds]
    for path in hide:
        _tmpfs(path, 0o755, 1)
    _finish_binds(opened)


def private_tmp(policy: Policy, keep: Sequence[str] = (), write: Sequence[str] = ()) -> None:
    """A fresh ``/tmp`` and ``/dev/shm`` for this process; ``keep`` (read-only) and ``write``
    (read-write) paths under /tmp stay visible. Its own IPC namespace too: System V shared memory
    and message queues would otherwise outlive the run and reach the next one."""
    _unshare_mounts(CLONE_NEWIPC)
    binds = [(p, False) for p in keep] + [(p, True) for p in write]
    opened = [(os.open(p, O_PATH | os.O_CLOEXEC), p, w) for p, w in binds if os.path.exists(p)]
    _tmpfs("/tmp", 0o1777, policy.scratch_mb)
    if os.path.isdir("/dev/shm"):
        _tmpfs("/dev/shm", 0o1777, policy.scratch_mb)
    _finish_binds(opened)
    os.chdir("/tmp")


def tmp_keeps(paths: Iterable[str]) -> list[str]:
    """The paths a private /tmp would hide (they may not exist yet: a socket bound later)."""
    return [p for p in _outermost(paths, existing=False) if _inside(p, ["/tmp"])]


def become(uid: int, pids_max: int) -> None:
    """Switch for good to ``uid`` (gid alike): no groups, no capabilities, no way back."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # clears every capability (no SECBIT_KEEP_CAPS)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid binaries and file capabilities give nothing back
    _prctl(PR_SET_DUMPABLE, 0)  # siblings cannot ptrace it or read its /proc mem and environ
    resource.setrlimit(resource.RLIMIT_NPROC, (pids_max, pids_max))


def die_with_parent() -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# -- cgroups -------------------------------------------------------------------------------------
def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fs type, options) of every cgroup file system."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, options = [*right.split(), "", ""][:3]
            if fstype in ("cgroup", "cgroup2"):
                found.append((left.split()[4], fstype, set(options.split(","))))
    return found


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


class Cgroups:
    """One cgroup per slot under ``bifrost/<name>``: cgroup v2 if it offers pids and memory,
    else the v1 pids and memory hierarchies."""

    def __init__(self, name: str) -> None:
        self.name = name
        mounts = _mounts()
        unified = [m for m in mounts if m[1] == "cgroup2"]
        v2 = None
        for point, _, _ in unified:
            with contextlib.suppress(OSError), open(f"{point}/cgroup.controllers") as f:
                if {"pids", "memory"} <= set(f.read().split()):
                    v2 = point
        self.v2 = v2 is not None
        if v2 is not None:
            self.roots = {"pids": v2, "memory": v2}
        else:
            v1 = {c: p for p, t, opts in mounts if t == "cgroup" for c in opts & {"pids", "memory"}}
            if {"pids", "memory"} - v1.keys():
                raise Unavailable(
                    "no cgroup with the pids and memory controllers is mounted (cgroup v2 at "
                    "/sys/fs/cgroup with both enabled, or the v1 pids and memory hierarchies)"
                )
            self.roots = v1
        self.dirs = sorted({f"{root}/bifrost/{name}" for root in self.roots.values()})
        try:
            for root in sorted(set(self.roots.values())):
                self._make(f"{root}/bifrost")
            for path in self.dirs:
                self._make(path)
        except OSError as exc:
            raise Unavailable(f"cannot create cgroups under {self.dirs}: {exc}") from exc

    def _make(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        if self.v2:  # children of this cgroup get both controllers
            parent = os.path.dirname(path)
            _write(f"{parent}/cgroup.subtree_control", "+pids +memory")
            _write(f"{path}/cgroup.subtree_control", "+pids +memory")

    def _slot(self, controller: str, slot: int) -> str:
        return f"{self.roots[controller]}/bifrost/{self.name}/s{slot}"

    def _slot_dirs(self, slot: int) -> list[str]:
        return sorted({self._slot(c, slot) for c in self.roots})

    def create(self, slot: int, pids_max: int, memory_mb: int) -> None:
        for path in self._slot_dirs(slot):
            os.makedirs(path, exist_ok=True)
        _write(f"{self._slot('pids', slot)}/pids.max", str(pids_max))
        self.set_memory(slot, memory_mb)

    def set_memory(self, slot: int, memory_mb: int) -> None:
        path = self._slot("memory", slot)
        value = str(memory_mb << 20) if memory_mb > 0 else ("max" if self.v2 else "-1")
        if self.v2:
            _write(f"{path}/memory.max", value)
            with contextlib.suppress(OSError):
                _write(f"{path}/memory.swap.max", "0")
        else:
            _write(f"{path}/memory.limit_in_bytes", value)

    def join(self, slot: int) -> None:
        """Move this process into the slot. On v1 a single-threaded process writes ``0`` to
        ``tasks``: moving only the calling thread skips the kernel's global
        ``cgroup_threadgroup_rwsem``, whose write side waits for an RCU grace period (~10 ms) when
        no other move happened just before. A process with threads moves whole (``cgroup.procs``),
        so none of its threads is ever left outside."""
        alone = not self.v2 and len(os.listdir("/proc/self/task")) == 1
        for path in self._slot_dirs(slot):
            if alone:
                _write(f"{path}/tasks", "0")
            else:
                _write(f"{path}/cgroup.procs", str(os.getpid()))

    def in_use(self, slot: int) -> int:
        """Tasks charged to the slot, zombies not yet reaped by their new parent included."""
        with open(f"{self._slot('pids', slot)}/pids.current") as f:
            return int(f.read())

    def procs(self, slot: int) -> list[int]:
        with open(f"{self._slot('pids', slot)}/cgroup.procs") as f:
            return [int(line) for line in f.read().split()]

    def kill(self, slot: int) -> bool:
        """SIGKILL everything in the slot; True once it is empty."""
        path = self._slot("pids", slot)
        if self.v2 and os.path.exists(f"{path}/cgroup.kill"):
            with contextlib.suppress(OSError):
                _write(f"{path}/cgroup.kill", "1")
        for attempt in range(2000):  # killed processes cannot fork; pids.max bounds the rest
            pids = self.procs(slot)
            if not pids:
                return True
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if attempt > 2:
                time.sleep(0.001)
        return False

    def kill_all(self) -> None:
        for path in self.dirs:
            with contextlib.suppress(OSError):
                for entry in os.listdir(path):
                    if entry.startswith("s") and entry[1:].isdigit():
                        self.kill(int(entry[1:]))

    def remove(self) -> None:
        for path in self.dirs:
            with contextlib.suppress(OSError):
                for entry in os.listdir(path):
                    if entry.startswith("s") and entry[1:].isdigit():
                        os.rmdir(f"{path}/{entry}")
                os.rmdir(path)


# -- slots ---------------------------------------------------------------------------------------
def _lock_dir() -> str:
    base = "/run" if os.path.isdir("/run") else "/tmp"
    path = f"{base}/bifrost-confine"
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if info.st_uid != 0 or info.st_mode & 0o077 or not stat.S_ISDIR(info.st_mode):
        raise Unavailable(f"{path} must be a directory owned by root with mode 0700")
    return path


def lock_range() -> tuple[int, int]:
    """(range index, held lock fd): ranges are exclusive per process on this machine."""
    directory = _lock_dir()
    for index in range(RANGES):
        fd = os.open(f"{directory}/{index}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return index, fd
        except BlockingIOError:
            os.close(fd)
    raise Unavailable(f"all {RANGES} uid ranges of {directory} are in use")


def lock_builds() -> int:
    """Builds share one uid and cgroup, so they take turns (a blocking lock)."""
    fd = os.open(f"{_lock_dir()}/build.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def missing() -> list[str]:
    """What this process lacks to confine (empty: nothing); cheap, for early messages."""
    problems = []
    if os.geteuid() != 0:
        problems.append(
            f"the worker runs as uid {os.geteuid()}, not root: confining executions needs root "
            "(mount namespaces, per-slot uids and cgroups)"
        )
    if not hasattr(os, "setresuid"):
        problems.append("this platform has no setresuid (Linux is required)")
    return problems


class Slots:
    """The uids and cgroups of one template: a locked range of ``SLOTS_PER_RANGE`` slots."""

    def __init__(self, policy: Policy, build: bool = False) -> None:
        problems = missing()
        if not 0 < policy.uid_base < (1 << 32) - (1 << 16) - 1:
            problems.append(f"the uid base {policy.uid_base} leaves no room for 65536 uids")
        if problems:
            raise Unavailable("; ".join(problems))
        self.policy = policy
        if build:
            self.index, self._lock = RANGES, lock_builds()
        else:
            self.index, self._lock = lock_range()
        self.cgroups = Cgroups("build" if build else f"r{self.index}")
        self.cgroups.kill_all()  # what an earlier holder of this range (killed itself) left
        self.free = collections.deque(range(SLOTS_PER_RANGE))  # released slots go to the right
        self.memory: dict[int, int] = {}

    def uid(self, slot: int) -> int:
        return self.policy.uid_base + self.index * SLOTS_PER_RANGE + slot

    def take(self, memory_mb: int | None = None) -> int:
        if not self.free:
            raise Unavailable(f"all {SLOTS_PER_RANGE} execution slots are in use")
        slot = self._drained()
        mb = self.policy.memory_mb if memory_mb is None else memory_mb
        if slot not in self.memory:
            self.cgroups.create(slot, self.policy.pids_max, mb)
            self.cgroups.kill(slot)  # a previous holder of this range may have left some
            self.memory[slot] = mb
        self.limit(slot, mb)
        return slot

    def _drained(self) -> int:
        """The most recently used free slot whose processes are all gone (killed ones count
        against its limits until reaped), since a cgroup's first use is slow (~20 ms on v1
        memory); else a fresh slot, else the oldest."""
        used = [slot for slot in reversed(self.free) if slot in self.memory][:8]
        for slot in used:
            if not self.cgroups.in_use(slot):
                self.free.remove(slot)
                return slot
        fresh = next((slot for slot in self.free if slot not in self.memory), None)
        if fresh is not None:
            self.free.remove(fresh)
            return fresh
        return self.free.popleft()

    def limit(self, slot: int, memory_mb: int) -> None:
        if self.memory.get(slot) != memory_mb:
            self.cgroups.set_memory(slot, memory_mb)
            self.memory[slot] = memory_mb

    def release(self, slot: int) -> bool:
        """Kill whatever the slot's process left behind; the slot is reused only if empty."""
        empty = self.cgroups.kill(slot)
        if empty:
            self.free.append(slot)
        return empty

    def enter(self, slot: int, tmp_keep: Sequence[str] = ()) -> None:
        """In the forked process, still root: join the slot, private /tmp, become its uid."""
        self.cgroups.join(slot)
        private_tmp(self.policy, tmp_keep)
        become(self.uid(slot), self.policy.pids_max)

    def close(self) -> None:
        self.cgroups.remove()
        os.close(self._lock)


# -- the build launcher -----------------------------------------------------------------------
def _chown_tree(root: str, uid: int, gid: int) -> None:
    """Hand a directory tree to ``uid``; symlinks are changed themselves, never followed."""
    os.chown(root, uid, gid, follow_symlinks=False)
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(top, name), uid, gid, follow_symlinks=False)


def run_confined(policy: Policy, argv: Sequence[str], env: dict[str, str]) -> int:
    """Run ``argv`` as the build uid in ``policy``'s view; returns its exit status.

    The ``write`` paths belong to the build uid while it runs and to root again afterwards; whatever
    the command left running is killed before that. Builds run one at a time on a machine."""
    policy = dataclasses.replace(policy, keep=(*policy.keep, *python_paths()))
    slots = Slots(policy, build=True)
    slot = slots.take()  # also kills what an interrupted earlier build left
    uid = slots.uid(slot)
    for path in policy.write:
        os.makedirs(path, exist_ok=True)
        _chown_tree(path, uid, uid)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                die_with_parent()
                slots.cgroups.join(slot)
                enter_view(policy)
                private_tmp(policy, tmp_keeps(policy.keep), tmp_keeps(policy.write))
                become(uid, policy.pids_max)
                die_with_parent()  # the change of uid cleared it
                os.execvpe(argv[0], list(argv), {**env, "HOME": "/tmp", "TMPDIR": "/tmp"})
            except BaseException as exc:
                print(f"bifrost: could not start {argv[0]} confined: {exc}", file=sys.stderr)
            finally:
                os._exit(127)
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        return os.waitstatus_to_exitcode(status)
    finally:
        slots.cgroups.kill(slot)
        for path in policy.write:  # back to root, also after an earlier interrupted build
            _chown_tree(path, os.getuid(), os.getgid())
        slots.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m bifrost.runtime.confine POLICY_JSON -- COMMAND...`` (used for package builds)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3 or args[1] != "--":
        raise SystemExit("usage: python -m bifrost.runtime.confine POLICY_JSON -- COMMAND...")
    signal.signal(signal.SIGTERM, lambda *_: None)  # our finally: cleans up; the group gets it too
    try:
        code = run_confined(Policy.from_json(args[0]), args[2:], dict(os.environ))
    except Unavailable as exc:
        print(f"bifrost: builds cannot be confined: {exc}", file=sys.stderr)
        code = 126
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EACCES, errno.EINVAL, errno.ENOSYS):
            raise
        print(f"bifrost: builds cannot be confined: {exc}", file=sys.stderr)
        code = 126
    raise SystemExit(code)


if __name__ == "__main__":
    main()
