"""One execution, inside a process forked from the template; it never returns.

The child isolates itself (own process group, rlimits, only its own fds), imports the entry module
by its dotted name (never ``exec`` of source, so ``__package__`` and pickling work), calls the
decorated function and reports a JSON outcome. Output goes to a memfd the template also holds, so
logs survive a timeout kill or a crash. Stdlib only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import importlib.util
import inspect
import io
import json
import logging
import math
import os
import pickle
import resource
import signal
import socket
import sys
import time
import traceback
import types
from typing import Any, NoReturn

from bifrost.runtime import sdk, wire
from bifrost.runtime.client import CLIENT, ENV_GENERATION
from bifrost.runtime.importer import VirtualImporter

MAX_RESULT_BYTES = 16 << 20
try:
    _LIBC: Any = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not glibc/musl
    _LIBC = None
_RUNTIME_FILES = frozenset(
    os.path.join(os.path.dirname(__file__), name)
    for name in ("child.py", "importer.py", "client.py", "template.py", "resources.py")
)
_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep
_IMPORTLIB_INIT = importlib.__file__


class ExecutionError(Exception):
    """A failure of the request itself (bad name, parameters or result), not of user code."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def main(
    sock: socket.socket, log_fd: int, request: dict[str, Any], importer: VirtualImporter
) -> NoReturn:
    """Entry point after ``fork`` for a request known at fork time; never returns."""
    code = 70
    try:
        _isolate(sock.fileno(), log_fd)
        code = _serve(sock, request, importer)
    except BaseException:
        _last_words()
    finally:
        os._exit(code)


def spare_main(sock: socket.socket, log_fd: int, importer: VirtualImporter) -> NoReturn:
    """Entry point of a spare: isolate and warm up now, then wait for one request."""
    code = 70
    try:
        _isolate(sock.fileno(), log_fd)
        _pretouch()
        payload = wire.recv_frame(sock)
        # No payload: the template dropped this spare.
        code = 0 if payload is None else _serve(sock, pickle.loads(payload)[1], importer)
    except BaseException:
        _last_words()
    finally:
        os._exit(code)


def _serve(sock: socket.socket, request: dict[str, Any], importer: VirtualImporter) -> int:
    set_limits(float(request.get("timeout_s") or 0), int(request.get("memory_mb") or 0))
    CLIENT.attach(sock)
    os.environ[ENV_GENERATION] = str(request["generation"])
    os.environ["BIFROST_EXECUTION_ID"] = str(request["execution_id"])
    outcome = execute(request, importer)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    sock.sendall(wire.encode_untrusted({"op": "done", **outcome}))
    return 0


def _last_words() -> None:
    with contextlib.suppress(BaseException):
        traceback.print_exc()


def _sample(a: Any, b: int = 1, *args: Any, c: Any, **kwargs: Any) -> Any:
    return a


def _pretouch() -> None:
    """Fault in (copy-on-write) the pages every run touches, before the request arrives."""
    importlib.util.find_spec("__bifrost_pretouch__")  # every path-entry finder
    inspect.signature(_sample).bind(1, c=2)
    json.dumps({"a": [1, 2.5, "x", None, True]}, allow_nan=False)
    logging.getLogger("bifrost.pretouch").debug("")


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


def _isolate(keep_fd: int, log_fd: int) -> None:
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


def _valid_name(dotted: str) -> bool:
    return bool(dotted) and all(part.isidentifier() for part in dotted.split("."))


def _resolve(importer: VirtualImporter, module_name: str, function: str) -> Any:
    if not _valid_name(module_name) or not function.isidentifier():
        raise ExecutionError("ValueError", f"invalid entry point {module_name}:{function}")
    rel = module_name.replace(".", "/")
    manifest = importer.snapshot.manifest
    if f"{rel}.py" not in manifest and f"{rel}/__init__.py" not in manifest:
        raise ModuleNotFoundError(f"No module named {module_name!r}", name=module_name)
    module = importlib.import_module(module_name)
    if not importer.owns(module):
        raise ExecutionError(
            "ImportError", f"{module_name!r} resolves to {module.__file__}, not to the workspace"
        )
    func = getattr(module, function, None)
    if func is None:
        raise ExecutionError(
            "AttributeError", f"module {module_name!r} has no function {function!r}"
        )
    if sdk.metadata(func) is None:
        raise ExecutionError(
            "TypeError",
            f"{module_name}.{function} is not decorated with @workflow or @data_provider",
        )
    return func


def _call(func: Any, name: str, parameters: dict[str, Any]) -> Any:
    try:
        bound = inspect.signature(func).bind(**parameters)
    except TypeError as exc:
        raise ExecutionError("ParameterError", f"invalid parameters for {name}: {exc}") from None
    if inspect.iscoroutinefunction(func):
        return asyncio.run(func(*bound.args, **bound.kwargs))
    result = func(*bound.args, **bound.kwargs)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _encode_result(result: Any) -> str:
    try:
        text = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ExecutionError(
            "ResultNotSerializable", f"the result is not JSON-serialisable: {exc}"
        ) from None
    if len(text) > MAX_RESULT_BYTES:
        raise ExecutionError(
            "ResultTooLarge", f"the result is {len(text)} bytes; the limit is {MAX_RESULT_BYTES}"
        )
    return text


def execute(request: dict[str, Any], importer: VirtualImporter) -> dict[str, Any]:
    """Import, bind, call; returns ``{status, result_json, error, child_ms}``."""
    started = time.perf_counter()
    module_name, function = str(request["module"]), str(request["function"])
    try:
        importer.ensure_last()
        func = _resolve(importer, module_name, function)
        parameters = request.get("parameters") or {}
        result = _call(func, f"{module_name}.{function}", parameters)
        outcome: dict[str, Any] = {
            "status": "success",
            "result_json": _encode_result(result),
            "error": None,
        }
    except ExecutionError as exc:
        outcome = {"status": "failed", "result_json": "null", "error": _plain_error(exc)}
    except BaseException as exc:
        outcome = {"status": "failed", "result_json": "null", "error": describe(exc)}
    outcome["child_ms"] = (time.perf_counter() - started) * 1000
    return outcome


def _plain_error(exc: ExecutionError) -> dict[str, Any]:
    return {"type": exc.kind, "message": str(exc), "traceback": ""}


def describe(exc: BaseException) -> dict[str, Any]:
    """Error dict with a traceback of the user's frames only (runtime frames trimmed)."""
    _trim(exc, set())
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception as fmt_exc:  # a broken __str__ must not lose the error
        text = f"{type(exc).__name__} (traceback unavailable: {fmt_exc!r})\n"
    try:
        message = str(exc)
    except Exception:
        message = repr(exc)
    return {"type": type(exc).__name__, "message": message, "traceback": text}


def _is_runtime(filename: str, leading: bool) -> bool:
    if filename in _RUNTIME_FILES or filename.startswith("<frozen importlib"):
        return True
    if filename == _IMPORTLIB_INIT:
        return True
    return leading and filename.startswith(_ASYNCIO_DIR)


def _trim(exc: BaseException | None, seen: set[int]) -> None:
    if exc is None or id(exc) in seen:
        return
    seen.add(id(exc))
    frames = []
    tb = exc.__traceback__
    leading = True
    while tb is not None:
        if _is_runtime(tb.tb_frame.f_code.co_filename, leading):
            tb = tb.tb_next
            continue
        leading = False
        frames.append(tb)
        tb = tb.tb_next
    new: types.TracebackType | None = None
    for item in reversed(frames):
        new = types.TracebackType(new, item.tb_frame, item.tb_lasti, item.tb_lineno)
    exc.__traceback__ = new
    _trim(exc.__cause__, seen)
    _trim(exc.__context__, seen)
