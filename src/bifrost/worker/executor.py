"""Supervisor side of execution: owns the template process and turns requests into outcomes.

The executor holds the credentials (through its ``CodeSource``); the template and its children never
do. It pins each run to a generation, teaches the template a generation it lacks (only the
change when the template holds the change's base, else the whole manifest), serves blob
requests from the source (with a small content-addressed cache that also warms a replacement
template), and never unpickles anything that came from user processes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import glob
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from bifrost.runtime import errors, wire
from bifrost.runtime.confine import Policy
from bifrost.runtime.protocol import (
    KEEP_MANIFESTS,
    STATUSES,
    CodeSource,
    ExecutionOutcome,
    ExecutionRequest,
    Snapshot,
)
from bifrost.worker.environment import template_env

__all__ = ["Executor", "Policy", "template_env"]

log = logging.getLogger(__name__)

GRACE_S = 10.0  # the template kills at the deadline; this is only a backstop if it cannot
BLOB_CACHE_BYTES = 64 << 20
STATE_PREFIX = "bifrost-rt-"


class ConfinementRefused(RuntimeError):
    """The template could not confine executions (the message says what the kernel lacks)."""


def remove_stale_state(directory: str | None = None) -> None:
    """State directories of executors that died without cleaning up (SIGKILL): their pid is in
    the name, so a directory whose owner is gone is removed."""
    pattern = os.path.join(directory or tempfile.gettempdir(), f"{STATE_PREFIX}*-*")
    for path in glob.glob(pattern):
        owner = os.path.basename(path)[len(STATE_PREFIX) :].split("-", 1)[0]
        if not owner.isdigit() or int(owner) == os.getpid():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            continue


class _Worker:
    """One template process and the framed connection to it."""

    def __init__(
        self,
        owner: Executor,
        proc: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.owner = owner
        self.proc = proc
        self.reader = reader
        self.writer = writer
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.known: collections.OrderedDict[int, None] = collections.OrderedDict()
        self.ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.infos: collections.deque[asyncio.Future[dict[str, Any]]] = collections.deque()
        self.closed = False
        self.socket_path = ""
        self.task = asyncio.create_task(self._read_loop())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, message: tuple[Any, ...]) -> int:
        """Queue one frame to the template; returns its size in bytes."""
        if self.closed:
            raise ConnectionError("the template process is gone")
        data = wire.encode_trusted(message)
        self.writer.write(data)
        return len(data)

    def submit(
        self, request: ExecutionRequest, snapshot: Snapshot, whole: bool = False
    ) -> asyncio.Future[Any]:
        if request.execution_id in self.pending:
            raise ValueError(f"execution {request.execution_id} is already running")
        self.teach(snapshot, whole)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[request.execution_id] = future
        self.send(
            (
                "run",
                {
                    "execution_id": request.execution_id,
                    "module": request.module,
                    "function": request.function,
                    "parameters": request.parameters,
                    "generation": snapshot.generation,
                    "timeout_s": request.timeout_s,
                    "memory_mb": request.memory_mb,
                },
            )
        )
        return future

    def teach(self, snapshot: Snapshot, whole: bool = False) -> None:
        """Teach the template ``snapshot`` unless it holds it (``known`` mirrors its bounded
        memory): only the change when it holds the change's base, else (or ``whole``) the
        whole manifest."""
        if snapshot.generation in self.known:
            return
        base, changes = snapshot.base, snapshot.changes
        if not whole and base is not None and changes is not None and base in self.known:
            message: tuple[Any, ...] = (
                "delta",
                base,
                snapshot.generation,
                dict(changes),
                len(snapshot.manifest),  # the template checks its result against this
            )
            kind = "delta"
        else:  # a gap, a new template, a rebuilt cache: the whole manifest, never a guess
            message, kind = ("manifest", snapshot.generation, dict(snapshot.manifest)), "manifest"
        self.owner.updates[kind] += 1
        self.owner.updates[f"{kind}_bytes"] += self.send(message)
        self.known[snapshot.generation] = None
        while len(self.known) > KEEP_MANIFESTS:
            self.known.popitem(last=False)

    async def info(self) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.infos.append(future)
        self.send(("info",))
        return await future

    async def _read_loop(self) -> None:
        try:
            while True:
                head = await self.reader.readexactly(wire.HEADER.size)
                (size,) = wire.HEADER.unpack(head)
                if size > wire.MAX_UNTRUSTED_FRAME:
                    raise ConnectionError(f"frame of {size} bytes from the template")
                self._dispatch(wire.decode_json(await self.reader.readexactly(size)))
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
            pass
        finally:
            self._gone()

    def _dispatch(self, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        if op == "outcome":
            future = self.pending.pop(str(msg.get("execution_id")), None)
            if future is not None and not future.done():
                future.set_result(msg)
        elif op == "blob" and isinstance(msg.get("sha"), str):
            self.owner._serve_blob(self, msg["sha"])
        elif op == "ready":
            if not self.ready.done():
                self.ready.set_result(msg)
        elif op == "forget" and isinstance(msg.get("generations"), list):
            for generation in msg["generations"]:  # a change it could not apply: resend whole
                self.known.pop(generation, None)
        elif op == "info" and self.infos:
            future = self.infos.popleft()
            if not future.done():
                future.set_result(msg)

    def _gone(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError, RuntimeError):  # the transport may be gone already
            self.writer.close()
        reason = (
            errors.error("ExecutorStopped", "the executor stopped before the execution finished")
            if self.owner._stopping
            else errors.error(
                "WorkerCrashed",
                "the execution worker (template process) died during this execution;"
                " it has been restarted",
            )
        )
        for future in self.pending.values():
            if not future.done():
                future.set_result({"status": "failed", "error": reason})
        self.pending.clear()
        for future in [self.ready, *self.infos]:
            if not future.done():
                future.set_exception(ConnectionError("the template process is gone"))
        self.owner._worker_gone(self)


class Executor:
    """Runs :class:`ExecutionRequest` s in children forked from one preloaded template process."""

    def __init__(
        self,
        source: CodeSource,
        *,
        root: str = "/tmp/bifrost/workspace",
        concurrency: int = 4,
        extra_sys_path: Sequence[str] = (),
        env: dict[str, str] | None = None,
        preload: Sequence[str] = (),
        python: str = sys.executable,
        startup_timeout_s: float = 60.0,
        spare: bool = True,
        confinement: Policy | None = Policy(),  # frozen: sharing the default is safe
        virtual: bool = True,
        log_bytes: int = 2 << 20,
        buffer_bytes: int = 64 << 20,
    ) -> None:
        """``confinement=None`` runs executions unconfined (the operator's explicit opt-out).
        ``virtual=False`` is the rollback path: entry modules come from plain ``sys.path``."""
        self._source = source
        self._confinement = confinement
        self._refused: str | None = None
        self._limits = {"log_bytes": log_bytes, "buffer_bytes": buffer_bytes}
        self._virtual = virtual
        self.root = os.path.normpath(os.path.abspath(root))
        self._extra_sys_path = [str(p) for p in extra_sys_path]
        self._env = dict(env or {})
        self._preload = list(preload)
        self._python = python
        self._startup_timeout = startup_timeout_s
        self._spare = spare
        template_env(self.root, "", self._extra_sys_path, self._env)  # validate early
        self._sem = asyncio.Semaphore(concurrency)
        self._worker: _Worker | None = None
        self._retired: set[_Worker] = set()
        self._spawn_lock = asyncio.Lock()
        self._stopping = False
        self._state_dir: str | None = None
        self._spawned = 0
        self._blobs: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._blob_bytes = 0
        self._fetching: dict[str, asyncio.Task[tuple[bytes | None, str | None]]] = {}
        self._last: Snapshot | None = None
        self._kept_keys: dict[tuple[int, str, str], int] = {}  # kept code -> template key (< 0)
        # How templates were taught generations: "delta"/"manifest" counts and their "_bytes".
        self.updates: collections.Counter[str] = collections.Counter()
        self._restart: asyncio.Task[Any] | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Spawn the template and wait until it reports ready. If it cannot confine executions,
        this logs why and every run fails with that message (nothing runs unconfined)."""
        self._stopping = False
        if self._confinement is None:
            log.warning(
                "EXECUTIONS ARE NOT CONFINED (BIFROST_SANDBOX=off): workflow code runs with the "
                "worker's own account and can reach whatever it can"
            )
        try:
            await self._current()
        except ConfinementRefused as exc:
            log.error("%s", exc)

    async def recycle(self) -> None:
        """Replace the template (after package installs); in-flight runs finish on the old one."""
        if self._refused is not None:
            return
        async with self._spawn_lock:
            fresh = await self._spawn()
            old, self._worker = self._worker, fresh
        if old is not None and not old.closed:
            self._retired.add(old)
            with contextlib.suppress(ConnectionError):
                old.send(("drain",))

    async def stop(self) -> None:
        """Stop every template (killing running children) and remove the private state dir."""
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._restart
        workers = [w for w in [self._worker, *self._retired] if w is not None]
        self._worker = None
        for worker in workers:
            with contextlib.suppress(ConnectionError):
                worker.send(("stop",))
        for worker in workers:
            try:
                await asyncio.wait_for(worker.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.kill()
                await worker.proc.wait()
            with contextlib.suppress(asyncio.CancelledError):
                await worker.task
        self._retired.clear()
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            self._state_dir = None

    async def __aenter__(self) -> Executor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def template_info(self) -> dict[str, Any]:
        """Diagnostics from the current template (pid, thread count, frozen GC objects...)."""
        return await (await self._current()).info()

    @property
    def template_pid(self) -> int | None:
        return self._worker.pid if self._worker is not None and not self._worker.closed else None

    async def _current(self) -> _Worker:
        worker = self._worker
        if worker is not None and not worker.closed:
            return worker
        async with self._spawn_lock:
            if self._stopping:
                raise RuntimeError("the executor is stopped")
            if self._refused is not None:
                raise ConfinementRefused(self._refused)
            if self._worker is None or self._worker.closed:
                self._worker = await self._spawn()
            return self._worker

    async def _spawn(self) -> _Worker:
        if self._state_dir is None:
            remove_stale_state()
            prefix = f"{STATE_PREFIX}{os.getpid()}-"
            self._state_dir = tempfile.mkdtemp(prefix=prefix)  # mode 0700
        self._spawned += 1
        listen = os.path.join(self._state_dir, f"t{self._spawned}.sock")
        env = template_env(
            self.root,
            listen,
            self._extra_sys_path,
            self._env,
            self._preload,
            spare=self._spare,
            confinement=self._confinement,
            virtual=self._virtual,
            limits=self._limits,
        )
        ours, theirs = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                self._python,
                "-P",
                "-s",
                "-m",
                "bifrost.runtime.template",
                "--fd",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                env=env,
                cwd=self._state_dir,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        worker = _Worker(self, proc, reader, writer)
        worker.socket_path = listen
        try:
            ready = await asyncio.wait_for(worker.ready, self._startup_timeout)
        except BaseException as exc:  # also cancelled (stop() during a restart): no orphan
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            if isinstance(exc, TimeoutError | ConnectionError):
                raise RuntimeError(f"the template process did not start: {exc!r}") from exc
            raise
        if isinstance(ready.get("refused"), str):
            self._refused = (
                f"{ready['refused']}. Executions refuse to run unconfined; an operator may set "
                "BIFROST_SANDBOX=off to run them anyway (see docs/security.md)"
            )
            await proc.wait()
            raise ConfinementRefused(self._refused)
        self._warm(worker)
        return worker

    def _warm(self, worker: _Worker) -> None:
        """Give a new template the latest manifest and the blobs we hold, so it compiles early."""
        if self._last is None:
            return
        worker.teach(self._last)
        wanted = set(self._last.manifest.values())
        blobs = {sha: data for sha, data in self._blobs.items() if sha in wanted}
        worker.send(("preload", blobs, self._last.generation))

    def _worker_gone(self, worker: _Worker) -> None:
        self._retired.discard(worker)
        with contextlib.suppress(OSError):
            os.unlink(worker.socket_path)  # a crashed template cannot remove its own
        if worker is self._worker and not self._stopping:
            self._restart = asyncio.create_task(self._restart_soon())

    async def _restart_soon(self) -> None:
        with contextlib.suppress(Exception):  # boundary: the next run retries and reports it
            await self._current()

    # -- blobs ------------------------------------------------------------------------------------
    def _serve_blob(self, worker: _Worker, sha: str) -> None:
        task = self._fetching.get(sha)
        if task is None:
            task = self._fetching[sha] = asyncio.create_task(self._fetch_blob(sha))
            task.add_done_callback(lambda _t: self._fetching.pop(sha, None))
        task.add_done_callback(lambda t: self._reply_blob(worker, sha, t))

    def _reply_blob(self, worker: _Worker, sha: str, task: asyncio.Task[Any]) -> None:
        data, error = task.result()
        with contextlib.suppress(ConnectionError):
            worker.send(("blob", sha, data, error))

    async def _fetch_blob(self, sha: str) -> tuple[bytes | None, str | None]:
        data = self._blobs.get(sha)
        if data is not None:
            self._blobs.move_to_end(sha)
            return data, None
        try:
            data = await self._source.blob(sha)
        except Exception as exc:  # boundary: the failure goes back to the child as text
            return None, f"{type(exc).__name__}: {exc}"
        if data is None:
            return None, "not found in the store"
        data = bytes(data)
        self._blobs[sha] = data
        self._blob_bytes += len(data)
        while self._blob_bytes > BLOB_CACHE_BYTES and len(self._blobs) > 1:
            _, dropped = self._blobs.popitem(last=False)
            self._blob_bytes -= len(dropped)
        return data, None

    # -- running ----------------------------------------------------------------------------------
    def has_free_slot(self) -> bool:
        """Whether a run started now would not wait for another to finish."""
        return not self._sem.locked()

    async def free_slot(self) -> None:
        """Return once a slot is free (taking none: the run that follows takes it)."""
        async with self._sem:
            pass

    async def run(self, request: ExecutionRequest) -> ExecutionOutcome:
        """Run one request to completion; never raises for failures of the user's code."""
        started = time.perf_counter()
        async with self._sem:
            try:
                if request.kept_generation is not None:
                    snapshot = await self._kept_snapshot(request)
                else:
                    snapshot = await self._source.snapshot(request.generation)
            except Exception as exc:  # boundary: run() never raises; the run fails with it
                error = errors.error("SourceUnavailable", repr(exc))
                if request.kept_generation is not None:
                    error = errors.error("KeptCodeUnavailable", str(exc) or repr(exc))
                msg = {"status": "failed", "error": error}
                return self._outcome(request, msg, request.generation, started)
            if request.kept_generation is None and (
                self._last is None or snapshot.generation >= self._last.generation
            ):
                self._last = snapshot
            try:
                try:
                    worker = await self._current()
                    future = worker.submit(request, snapshot)
                except ConnectionError:  # the template died just now: one retry on a fresh one
                    worker = await self._current()
                    future = worker.submit(request, snapshot)
            except ConfinementRefused as exc:
                msg = {"status": "failed", "error": errors.error("SandboxUnavailable", str(exc))}
                return self._outcome(request, msg, snapshot.generation, started)
            limit = (
                request.timeout_s + GRACE_S if request.timeout_s and request.timeout_s > 0 else None
            )
            try:
                async with asyncio.timeout(limit):
                    msg = await future
                    if msg.get("missing_manifest") is True:
                        msg = await self._run_again(worker, request, snapshot, msg)
            except TimeoutError:
                with contextlib.suppress(ConnectionError):
                    worker.send(("kill", request.execution_id))
                worker.pending.pop(request.execution_id, None)
                message = f"the execution exceeded its {request.timeout_s:g} s timeout"
                msg = {"status": "timeout", "error": errors.error("TimeoutError", message)}
            except asyncio.CancelledError:
                with contextlib.suppress(ConnectionError):
                    worker.send(("kill", request.execution_id))
                worker.pending.pop(request.execution_id, None)
                raise
        outcome = self._outcome(request, msg, snapshot.generation, started)
        if request.kept_generation is not None:  # ran on kept code: say which generation
            outcome.generation = request.kept_generation
        return outcome

    async def _kept_snapshot(self, request: ExecutionRequest) -> Snapshot:
        """An orphan's code as a manifest of its own: the kept python manifest with its module
        at its last good source. The template knows it under a negative key, so it is never
        taken for (or pruned as older than) a live generation."""
        assert request.kept_generation is not None
        path, sha = request.kept_path or "", request.kept_hash or ""
        manifest = await self._source.kept(request.kept_generation, path, sha)
        code = (request.kept_generation, path, sha)
        key = self._kept_keys.get(code)
        if key is None:
            key = self._kept_keys[code] = -1 - len(self._kept_keys)
        return Snapshot(generation=key, manifest=manifest)

    @staticmethod
    async def _run_again(
        worker: _Worker, request: ExecutionRequest, snapshot: Snapshot, refused: dict[str, Any]
    ) -> dict[str, Any]:
        """The template lacked the run's generation (it refused a change it could not apply):
        teach it the whole manifest and ask once more, so no run depends on a change."""
        worker.known.pop(snapshot.generation, None)
        try:
            future = worker.submit(request, snapshot, whole=True)
        except ConnectionError:
            return refused
        return await future

    @staticmethod
    def _outcome(
        request: ExecutionRequest, msg: dict[str, Any], generation: int, started: float
    ) -> ExecutionOutcome:
        status = msg.get("status") if msg.get("status") in STATUSES else "failed"
        result: Any = None
        error = msg.get("error")
        if status == "success":
            try:
                result = json.loads(msg.get("result_json") or "null")
                error = None
            except ValueError:
                status, error = (
                    "failed",
                    errors.error("ResultNotSerializable", "invalid result JSON"),
                )
        if status != "success":
            error = errors.clean(error) or errors.error("ExecutionError", "the execution failed")
        logs = msg.get("logs") if isinstance(msg.get("logs"), str) else ""
        gen = msg.get("generation")
        return ExecutionOutcome(
            execution_id=request.execution_id,
            status=status,
            result=result,
            logs=logs,
            error=error,
            generation=gen if isinstance(gen, int) else generation,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
