"""The template process: preloaded, single-threaded, forks one child per execution.

Started by the executor as ``python -m bifrost.runtime.template --fd N`` with a scrubbed
environment (no credentials). It installs the import hook, preloads the runtime, freezes the GC and
then multiplexes with one selector: run requests from the executor, blob requests from children
(forwarded to the executor, answered back, kept so later children import from memory and compiled
when idle), children's output (drained into bounded buffers), child exits (pidfds) and deadlines
(SIGKILL of the child's process group; at the end of a run everything left in its slot's cgroup).
When confinement is on (``BIFROST_RUNTIME_CONFINE``) the template first enters its file-system
view (see ``confine``) and gives every child a slot of its own. Stdlib only.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gc
import hashlib
import importlib.machinery
import json
import os
import pickle
import re
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any

from bifrost.runtime import bootstrap, child, confine, errors, isolation, wire
from bifrost.runtime.client import (
    CLIENT,
    ENV_CONFINE,
    ENV_LIMITS,
    ENV_PRELOAD,
    ENV_ROOT,
    ENV_SOCKET,
    ENV_SPARE,
)
from bifrost.runtime.importer import VirtualImporter, install
from bifrost.runtime.logs import LogBuffer
from bifrost.runtime.protocol import KEEP_MANIFESTS, apply
from bifrost.runtime.wire import Peer

LOG_BYTES = 2 << 20  # output kept per run (start and end); BIFROST_EXECUTION_LOG_BYTES
BUFFER_BYTES = 64 << 20  # replies a child may leave unread; BIFROST_EXECUTION_BUFFER_BYTES
MAX_SPARES = 8  # spares kept at most: as many as runs were seen at once, up to this
LINGER_S = 1.0  # a child that reported must exit this soon, or it is killed
CONNECTIONS_PER_UID = 64  # a run's descendants connecting through the listener socket
SO_PEERCRED = getattr(socket, "SO_PEERCRED", 17)
SWEEP_PINS = 32  # pins by change between two sweeps of unused blobs over the whole manifest
_SHA = re.compile(r"[0-9a-f]{64}")
Step = tuple[int, dict[str, str | None]]  # how a generation was taught: (base, changes)


class Run:
    """One forked child: a spare waiting for work, or an execution."""

    def __init__(
        self, pid: int, peer: Peer, log_fd: int, epoch: int, slot: int | None, log_bytes: int
    ) -> None:
        self.pid = pid
        self.peer = peer
        self.log_fd = log_fd  # the read end of the child's output pipe; -1 once at its end
        self.logs = LogBuffer(log_bytes)
        self.slot = slot
        self.epoch = epoch
        self.pidfd = -1
        self.request: dict[str, Any] | None = None
        self.id = ""
        self.deadline = float("inf")
        self.ending = ""  # why the template killed it: timeout, cancelled, stale, flooded...
        self.reported = False

    def assign(self, request: dict[str, Any]) -> None:
        self.request = request
        self.id = str(request["execution_id"])
        timeout = float(request.get("timeout_s") or 0)
        timeout = min(timeout, isolation.MAX_TIMEOUT_S)  # beyond, as good as none (no overflow)
        self.deadline = time.monotonic() + timeout if timeout > 0 else float("inf")


class Template:
    """The single-threaded event loop of the template process.

    Between requests it keeps *spare* children forked in advance: a spare has already paid for
    the fork, its own isolation (the cgroup move among it: an RCU grace period, ~10 ms, when no
    other move happened just before) and the first-touch copy-on-write faults of the import
    machinery, so a request only costs the import and the call. It keeps one spare more than the
    most runs seen at once (up to ``MAX_SPARES``), each in a slot of its own, forks a new one as
    soon as no run is going on, and hands a request the oldest: back-to-back requests find a
    spare forked a run earlier, done isolating, rather than the one still isolating (or none,
    which costs the fork, ~4 ms of CPU, on the request's path). A spare is used only if nothing
    children inherit (generation, blobs, code objects) changed since it was forked
    (``epoch``); stale ones are killed and replaced when idle.
    """

    def __init__(
        self,
        sock: socket.socket,
        importer: VirtualImporter,
        listen: str | None,
        spare: bool = True,
        slots: confine.Slots | None = None,
        log_bytes: int = LOG_BYTES,
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        self.importer = importer
        self.slots = slots
        self.log_bytes = log_bytes
        self.buffer_bytes = buffer_bytes
        self.sel = selectors.DefaultSelector()
        self.executor = Peer(sock, wire.MAX_FRAME, self.sel, "executor")
        self.listener: socket.socket | None = None
        if listen:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(listen)
            if slots is not None:  # children run as other uids; the directory is private
                os.chmod(listen, 0o666)
            self.listener.listen(64)
            self.listener.setblocking(False)
            self.sel.register(self.listener, selectors.EVENT_READ, ("listener", None))
        self.manifests: collections.OrderedDict[int, dict[str, str]] = collections.OrderedDict()
        self.newest = -1
        self.learned: dict[int, Step] = {}  # generation -> (base, changes) it was taught as
        self.pins = 0
        self.paths_by_sha: dict[str, list[str]] | None = None
        self.runs: dict[int, Run] = {}
        self.clients: dict[Peer, Run | None] = {}
        self.accepted: dict[Peer, int] = {}  # connections through the listener, by peer uid
        self.connections: collections.Counter[int] = collections.Counter()
        self.waiting: dict[str, list[Peer]] = {}
        self.jobs: collections.deque[tuple[str, str]] = collections.deque()
        self.use_spare = spare
        self.spares: list[Run] = []
        self.spares_wanted = 2  # one more than the most runs seen at once, up to MAX_SPARES
        self.epoch = 0
        self.draining = False
        self.running = True
        self.forks = 0
        self.spares_used = 0

    # -- loop -------------------------------------------------------------------------------
    def serve(self) -> None:
        self.executor.send(wire.encode_untrusted({"op": "ready", "pid": os.getpid()}))
        while self.running:
            timeout = 0.0 if self.jobs or self._spare_wanted() else self._next_timeout()
            if timeout is not None:
                timeout = min(timeout, isolation.MAX_SELECT_S)  # then the loop simply waits again
            events = self.sel.select(timeout)
            if not events:
                self._idle()
            for key, mask in events:
                kind, obj = key.data
                if mask & selectors.EVENT_WRITE:
                    obj.flush()
                if not mask & selectors.EVENT_READ:
                    continue
                if kind == "executor":
                    self._read_executor()
                elif kind == "client":
                    self._read_client(obj)
                elif kind == "log":
                    self._read_log(obj)
                elif kind == "exit":
                    self._reap(obj)
                elif kind == "listener":
                    self._accept()
            if self.polling:
                self._poll_exits()
            self._check_deadlines()
            if self.draining:
                self._drop_spares()
                if not self.runs:
                    self.running = False
        self._shutdown()

    @property
    def polling(self) -> bool:
        return any(run.pidfd < 0 for run in self.runs.values())

    def _next_timeout(self) -> float | None:
        if not self.runs:
            return None
        soonest = min(run.deadline for run in self.runs.values())
        wait = None if soonest == float("inf") else max(0.0, soonest - time.monotonic())
        if self.polling:
            return 0.02 if wait is None else min(wait, 0.02)
        return wait

    def _shutdown(self) -> None:
        for run in list(self.runs.values()):
            self._kill(run)
        for run in list(self.runs.values()):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(run.pid, 0)
        self.executor.sock.setblocking(True)
        if self.executor.out:
            with contextlib.suppress(OSError):
                self.executor.sock.sendall(self.executor.out)
        if self.slots is not None:
            for run in self.runs.values():
                if run.slot is not None:
                    self.slots.release(run.slot)
            self.slots.close()

    # -- executor messages ----------------------------------------------------------------------
    def _read_executor(self) -> None:
        frames = self.executor.receive()
        if frames is None:  # the executor is gone: nothing may outlive it
            self.running = False
            return
        for payload in frames:
            self._on_executor(pickle.loads(payload))

    def _on_executor(self, msg: tuple[Any, ...]) -> None:
        op = msg[0]
        if op == "run":
            self._start(msg[1])
        elif op == "blob":
            self._blob_arrived(msg[1], msg[2], msg[3])
        elif op == "manifest":
            self._remember(msg[1], msg[2])
        elif op == "delta":  # (delta, base, generation, {path: sha | None}, size)
            self._apply_delta(msg[1], msg[2], msg[3], msg[4])
        elif op == "preload":  # (preload, {sha: bytes}, generation | None) from a warm executor
            self.importer.preload_blobs(
                {
                    sha: data
                    for sha, data in msg[1].items()
                    if hashlib.sha256(data).hexdigest() == sha
                }
            )
            self.epoch += 1
            if msg[2] is not None:
                self._pin(msg[2])
        elif op == "kill":
            for run in self.runs.values():
                if run.id == msg[1] and not run.ending:
                    self._kill(run, "cancelled")
        elif op == "info":
            self._send_info()
        elif op == "drain":
            self.draining = True
        elif op == "stop":
            self.running = False

    def _remember(
        self, generation: int, manifest: dict[str, str], step: Step | None = None
    ) -> None:
        self.manifests[generation] = manifest
        if step is not None:
            self.learned[generation] = step
        else:
            self.learned.pop(generation, None)
        while len(self.manifests) > KEEP_MANIFESTS:
            old, _ = self.manifests.popitem(last=False)
            self.learned.pop(old, None)

    def _apply_delta(
        self, base: int, generation: int, changes: dict[str, str | None], size: int
    ) -> None:
        """Learn ``generation`` as ``base`` plus ``changes``. Without that base, or if the result
        is not the size the executor expects, learn nothing and say so: a run pinned to it is
        refused (never runs other code) and the executor teaches it whole and asks again."""
        held = self.manifests.get(base)
        manifest = apply(held, changes) if held is not None else None
        if manifest is None or len(manifest) != size:
            forget = {"op": "forget", "generations": [base, generation]}
            self.executor.send(wire.encode_untrusted(forget))
            return
        self._remember(generation, manifest, (base, changes))

    def _send_info(self) -> None:
        try:
            tasks = len(os.listdir("/proc/self/task"))
        except OSError:
            tasks = -1
        info = {
            "op": "info",
            "pid": os.getpid(),
            "threads": threading.active_count(),
            "os_threads": tasks,
            "gc_frozen": gc.get_freeze_count(),
            "gc_enabled": gc.isenabled(),
            "runs": sum(1 for run in self.runs.values() if run.request is not None),
            "run_pids": [r.pid for r in self.runs.values() if r.request and not r.reported],
            "spare": self.spares[0].pid if self.spares else None,
            "spares": [run.pid for run in self.spares],
            "forks": self.forks,
            "spares_used": self.spares_used,
            "generation": self.importer.generation,
            "blobs": len(self.importer._blobs),
            "code_objects": len(self.importer._code),
            "sys_path": sys.path,
            "environ": dict(os.environ),
        }
        self.executor.send(wire.encode_untrusted(info))

    # -- starting a run ---------------------------------------------------------------------------
    def _pin(self, generation: int) -> bool:
        manifest = self.manifests.get(generation)
        if manifest is None:
            return False
        pinned = self.importer.snapshot
        # Learned as a change from the generation pinned now: every index follows the change
        # alone (a sweep of the whole manifest now and then drops what else went unused).
        step = self.learned.get(generation)
        changes = step[1] if step is not None and step[0] == pinned.generation else None
        if self.importer.pin(generation, manifest, changes):
            self.epoch += 1
            self.pins += 1
            self.importer.snapshot.dirs()  # build once here; every child inherits it
            # pin() invalidated the FileFinder caches: refill them here, not in every child.
            importlib.machinery.PathFinder.find_spec("__bifrost_warm__")
            self.paths_by_sha = None
            if generation > self.newest:
                self.newest = generation
                if changes is not None and self.pins % SWEEP_PINS:
                    replaced = (pinned.manifest.get(path) for path in changes)
                    self.importer.prune(manifest, only=[sha for sha in replaced if sha])
                else:
                    self.importer.prune(manifest)
            todo = manifest.items() if changes is None else changes.items()
            for path, sha in todo:  # blobs already held: compile them when idle
                held = sha is not None and path.endswith(".py") and self.importer.has_blob(sha)
                if held and not self.importer.is_compiled(path, sha):
                    self.jobs.append((path, sha))
        return True

    def _start(self, request: dict[str, Any]) -> None:
        generation = int(request["generation"])
        if self.draining or not self._pin(generation):
            why = (
                "the worker is being replaced"
                if self.draining
                else f"the worker does not hold the manifest of generation {generation}"
            )
            error = errors.error("WorkerError", why)
            self._report(request, "failed", error=error, missing=not self.draining)
            return
        self._drop_spares(stale_only=True)  # forked before this generation or this code
        running = 1 + sum(1 for run in self.runs.values() if run.request and not run.reported)
        self.spares_wanted = max(self.spares_wanted, min(running + 1, MAX_SPARES))
        spare = self.spares.pop(0) if self.spares else None  # the oldest: done isolating
        if spare is not None:
            if not self._fit(spare, int(request.get("memory_mb") or 0)):
                self._kill(spare, "stale")
                self._fork_or_refuse(request)
                return
            self.spares_used += 1
            spare.assign(request)
            self.clients[spare.peer] = spare
            self._send_client(spare.peer, wire.encode_trusted(("run", request)))
            return
        self._fork_or_refuse(request)

    def _fit(self, spare: Run, memory_mb: int) -> bool:
        """Give a spare's slot the request's memory limit (the kernel refuses one below what
        the spare already uses)."""
        if self.slots is None or spare.slot is None:
            return True
        try:
            self.slots.limit(spare.slot, memory_mb)
            return True
        except OSError:
            return False

    def _fork_or_refuse(self, request: dict[str, Any]) -> None:
        try:
            self._fork(request)
        except (confine.Unavailable, OSError) as exc:
            self._report(request, "failed", error=errors.error("WorkerError", str(exc)))

    def _fork(self, request: dict[str, Any] | None) -> Run:
        """Fork a child: for ``request`` now, or (None) a spare that waits for one."""
        slot = None
        if self.slots is not None:
            memory = int(request.get("memory_mb") or 0) if request is not None else None
            slot = self.slots.take(memory)
        parent_sock, child_sock = socket.socketpair()
        log_r, log_w = os.pipe2(os.O_CLOEXEC)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        gc.freeze()  # objects made since the last fork stay shared, not copied on first GC pass
        pid = os.fork()
        if pid == 0:
            try:
                parent_sock.close()
                if request is None:
                    child.spare_main(child_sock, log_w, self.importer, slot)
                else:
                    child.main(child_sock, log_w, request, self.importer, slot)
            finally:
                os._exit(70)
        self.forks += 1
        child_sock.close()
        os.close(log_w)
        os.set_blocking(log_r, False)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        peer = Peer(parent_sock, wire.MAX_UNTRUSTED_FRAME, self.sel, "client", self.buffer_bytes)
        run = Run(pid, peer, log_r, self.epoch, slot, self.log_bytes)
        self.sel.register(log_r, selectors.EVENT_READ, ("log", run))
        if request is not None:
            run.assign(request)
        self.runs[pid] = run
        self.clients[peer] = run if request is not None else None
        try:
            run.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # kernels before 5.3: poll with waitpid instead
            return run
        self.sel.register(run.pidfd, selectors.EVENT_READ, ("exit", run))
        return run

    # -- idle work: compile, keep fresh spares ------------------------------------------------
    def _fresh(self, run: Run) -> bool:
        return run.epoch == self.epoch and not run.ending

    def _spare_wanted(self) -> bool:
        """A (new) spare should be forked now: fewer fresh ones than wanted, and no execution
        running (forking, and the spare warming up, would compete with it for the CPU)."""
        if not self.use_spare or self.draining or self.importer.generation is None:
            return False
        if sum(1 for run in self.spares if self._fresh(run)) >= self.spares_wanted:
            return False
        return not any(run.request is not None and not run.reported for run in self.runs.values())

    def _idle(self) -> None:
        if self.jobs:
            relpath, sha = self.jobs.popleft()
            current = self.importer.snapshot.manifest.get(relpath) == sha
            if (
                current
                and self.importer.has_blob(sha)
                and not self.importer.is_compiled(relpath, sha)
            ):
                try:
                    self.importer.compile_cached(relpath, sha)
                    self.epoch += 1
                except Exception:  # boundary: user source; the child that imports it reports it
                    pass
            return
        if self._spare_wanted():
            self._drop_spares(stale_only=True)
            try:
                self.spares.append(self._fork(None))
            except (confine.Unavailable, OSError):  # no free slot or no memory: keep what we have
                self.spares_wanted = len(self.spares)
                self.use_spare = bool(self.spares)  # none at all: fork per request from now

    def _drop_spares(self, stale_only: bool = False) -> None:
        """Kill the spares (``stale_only``: those forked before the current ``epoch``)."""
        for run in [r for r in self.spares if not (stale_only and self._fresh(r))]:
            self._kill(run, "stale")
            self.spares.remove(run)

    # -- clients: execution children and their descendants --------------------------------------
    def _accept(self) -> None:
        """A connection from an execution's descendant (fork, spawn): at most
        ``CONNECTIONS_PER_UID`` per run, so no run can use up the template's descriptors."""
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except OSError:  # nothing waiting, or out of descriptors: the client sees a reset
            return
        _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, SO_PEERCRED, 12))
        if self.connections[uid] >= CONNECTIONS_PER_UID:
            conn.close()
            return
        peer = Peer(conn, wire.MAX_UNTRUSTED_FRAME, self.sel, "client", self.buffer_bytes)
        self.clients[peer] = None
        self.connections[uid] += 1
        self.accepted[peer] = uid

    def _read_client(self, peer: Peer) -> None:
        try:
            frames = peer.receive()
            for payload in frames or ():
                self._on_client(peer, wire.decode_json(payload))
        except (ValueError, ConnectionError):
            frames = None  # a misbehaving process loses its channel, nothing else
        if frames is None:
            self._close_client(peer)

    def _close_client(self, peer: Peer) -> None:
        self.clients.pop(peer, None)
        uid = self.accepted.pop(peer, None)
        if uid is not None:
            self.connections[uid] -= 1
        peer.close()

    def _send_client(self, peer: Peer, data: bytes) -> None:
        """A child that leaves more than ``buffer_bytes`` of replies unread is stopped (its
        descendants only lose their connection); nobody else's run is affected."""
        peer.send(data)
        if not peer.overflowed:
            return
        run = self.clients.get(peer)
        if run is not None and not run.ending:
            self._kill(run, "flooded")
        elif run is None:
            self._close_client(peer)

    def _on_client(self, peer: Peer, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        if op == "blob" and isinstance(msg.get("sha"), str) and _SHA.fullmatch(msg["sha"]):
            self._want_blob(peer, msg["sha"])
        elif op == "manifest" and isinstance(msg.get("generation"), int):
            generation = msg["generation"]
            manifest = self.manifests.get(generation)
            self._send_client(peer, wire.encode_trusted(("manifest", generation, manifest)))
        elif op == "done" and self.clients.get(peer) is not None:
            run = self.clients[peer]
            assert run is not None
            if not run.reported and not run.ending:
                self._report_done(run, msg)
        else:
            raise ValueError(f"unexpected message {op!r}")

    def _want_blob(self, peer: Peer, sha: str) -> None:
        if self.importer.has_blob(sha):
            reply = wire.encode_trusted(("blob", sha, self.importer.blob(sha), None))
            self._send_client(peer, reply)
            return
        waiters = self.waiting.setdefault(sha, [])
        waiters.append(peer)
        if len(waiters) == 1:
            self.executor.send(wire.encode_untrusted({"op": "blob", "sha": sha}))

    def _blob_arrived(self, sha: str, data: bytes | None, error: str | None) -> None:
        if data is not None and hashlib.sha256(data).hexdigest() != sha:
            data, error = None, "content does not match its sha256"
        reply = wire.encode_trusted(("blob", sha, data, error))
        for peer in self.waiting.pop(sha, []):
            self._send_client(peer, reply)
        if data is not None:
            self.importer.preload_blobs({sha: data})
            self.epoch += 1
            self._queue_compile(sha)

    def _queue_compile(self, sha: str) -> None:
        if self.paths_by_sha is None:
            index: dict[str, list[str]] = {}
            for path, digest in self.importer.snapshot.manifest.items():
                if path.endswith(".py"):
                    index.setdefault(digest, []).append(path)
            self.paths_by_sha = index
        for path in self.paths_by_sha.get(sha, ()):
            self.jobs.append((path, sha))

    # -- ending a run -----------------------------------------------------------------------------
    def _check_deadlines(self) -> None:
        if not self.runs:
            return
        now = time.monotonic()
        for run in list(self.runs.values()):
            if not run.ending and now >= run.deadline:
                self._kill(run, "lingered" if run.reported else "timeout")

    def _kill(self, run: Run, why: str = "cancelled") -> None:
        run.ending = run.ending or why
        for kill in (os.killpg, os.kill):
            try:
                kill(run.pid, signal.SIGKILL)
                return
            except (ProcessLookupError, PermissionError):
                continue

    def _poll_exits(self) -> None:
        for run in [r for r in self.runs.values() if r.pidfd < 0]:
            pid, status = os.waitpid(run.pid, os.WNOHANG)
            if pid:
                self._reap(run, status)

    def _read_log(self, run: Run, rounds: int = 16) -> None:
        """Drain the child's output into its bounded buffer (a few reads, then others' turn)."""
        for _ in range(rounds if run.log_fd >= 0 else 0):  # an event of this round may be stale
            try:
                data = os.read(run.log_fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.sel.unregister(run.log_fd)
                os.close(run.log_fd)
                run.log_fd = -1
                return
            run.logs.feed(data)

    def _reap(self, run: Run, status: int | None = None) -> None:
        if run.peer in self.clients:
            self._read_client(run.peer)  # the child wrote "done" before exiting
        if run.pidfd >= 0:
            self.sel.unregister(run.pidfd)
            os.close(run.pidfd)
        if status is None:
            _, status = os.waitpid(run.pid, 0)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.pid, signal.SIGKILL)  # strays the execution left behind
        if self.slots is not None and run.slot is not None:
            self.slots.release(run.slot)  # and every process it started, however detached
        if run.log_fd >= 0:
            self._read_log(run, rounds=1024)
        if run.log_fd >= 0:
            self.sel.unregister(run.log_fd)
            os.close(run.log_fd)
        del self.runs[run.pid]
        if run in self.spares:
            self.spares.remove(run)
        self._close_client(run.peer)
        if run.request is not None and not run.reported:
            limit = float(run.request["timeout_s"] or 0)
            outcome = "failed"
            if run.ending == "timeout":
                outcome, why = "timeout", f"the execution exceeded its {limit:g} s timeout"
                err = errors.error("TimeoutError", why)
            elif run.ending == "cancelled":
                err = errors.error("Cancelled", "the execution was cancelled")
            elif run.ending == "flooded":
                why = (
                    f"the execution left more than {self.buffer_bytes} bytes of replies unread"
                    " on its channel to the worker and was stopped"
                )
                err = errors.error("OutputLimitExceeded", why)
            else:
                err = errors.error("ExecutionCrashed", errors.describe_exit(status, limit))
            self._report(run.request, outcome, error=err, logs=run.logs.text())

    def _report_done(self, run: Run, msg: dict[str, Any]) -> None:
        assert run.request is not None
        status = msg.get("status") if msg.get("status") in ("success", "failed") else "failed"
        result_json = msg.get("result_json") if isinstance(msg.get("result_json"), str) else "null"
        error = errors.clean(msg.get("error"))
        if status == "failed" and error is None:
            error = errors.error(
                "ExecutionError", "the execution failed without an error description"
            )
        child_ms = msg.get("child_ms") if isinstance(msg.get("child_ms"), (int, float)) else None
        run.reported = True
        run.deadline = min(run.deadline, time.monotonic() + LINGER_S)  # it exits right after
        if run.log_fd >= 0:
            self._read_log(run, rounds=1024)  # what it printed before reporting
        self._report(
            run.request,
            status,
            result_json=result_json if status == "success" else "null",
            error=error if status == "failed" else None,
            logs=run.logs.text(),
            child_ms=child_ms,
        )

    def _report(
        self,
        request: dict[str, Any],
        status: str,
        *,
        result_json: str = "null",
        error: dict[str, str] | None = None,
        logs: str = "",
        child_ms: float | None = None,
        missing: bool = False,
    ) -> None:
        """``missing``: refused for lack of the run's manifest (the executor may teach it whole
        and ask again)."""
        self.executor.send(
            wire.encode_untrusted(
                {
                    "op": "outcome",
                    "missing_manifest": missing,
                    "execution_id": request["execution_id"],
                    "status": status,
                    "result_json": result_json,
                    "error": error,
                    "logs": logs,
                    "generation": request["generation"],
                    "child_ms": child_ms,
                }
            )
        )


def _confine(listen: str | None) -> tuple[confine.Slots | None, list[str]]:
    """Enter the view of ``BIFROST_RUNTIME_CONFINE`` and take a range of slots; (None, [])
    when the executor turned confinement off."""
    raw = os.environ.get(ENV_CONFINE)
    if not raw:
        return None, []
    problems = confine.missing()
    if problems:
        raise confine.Unavailable("; ".join(problems))
    policy = confine.Policy.from_json(raw)
    keep = (*policy.keep, *confine.python_paths())
    policy = dataclasses.replace(policy, keep=keep)
    confine.enter_view(policy)
    return confine.Slots(policy), confine.tmp_keeps([*keep, *filter(None, [listen])])


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m bifrost.runtime.template --fd N``."""
    args = sys.argv[1:] if argv is None else argv
    fd = int(args[args.index("--fd") + 1])
    # The executor starts us in a session of our own, so terminal signals never arrive here; the
    # default SIGINT/SIGTERM handling is what children should inherit. Huge outputs must fail a
    # write (EFBIG) rather than kill the child.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    bootstrap.extend_sys_path()  # the package directory, after the stdlib and site-packages
    listen = os.environ.get(ENV_SOCKET)
    try:
        slots, tmp_keep = _confine(listen)  # what sys.path names stays visible, read-only
    except (confine.Unavailable, OSError) as exc:  # refuse, saying why; never run unconfined
        refused = f"executions cannot be confined: {exc}"
        sock.sendall(wire.encode_untrusted({"op": "ready", "pid": os.getpid(), "refused": refused}))
        return
    CLIENT.disable()  # the template only serves blobs; a fetch here would wait on itself
    importer = install(os.environ[ENV_ROOT], CLIENT.fetch)
    for name in filter(None, os.environ.get(ENV_PRELOAD, "").split(",")):
        try:
            __import__(name.strip())
        except Exception as exc:  # boundary: a preloaded module may raise anything
            print(f"bifrost template: could not preload {name}: {exc!r}", file=sys.stderr)
    isolation.prepare(slots, tmp_keep)
    spare = os.environ.get(ENV_SPARE, "1") != "0"
    limits = json.loads(os.environ.get(ENV_LIMITS) or "{}")
    template = Template(
        sock,
        importer,
        listen,
        spare=spare,
        slots=slots,
        log_bytes=int(limits.get("log_bytes") or LOG_BYTES),
        buffer_bytes=int(limits.get("buffer_bytes") or BUFFER_BYTES),
    )
    gc.collect()
    gc.freeze()
    template.serve()


if __name__ == "__main__":
    main()
