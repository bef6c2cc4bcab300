"""One execution, inside a process forked from the template; it never returns.

The child isolates itself (see ``isolation``), imports the entry module
by its dotted name (never ``exec`` of source, so ``__package__`` and pickling work), calls the
decorated function and reports a JSON outcome. Output goes to a pipe the template drains into a
bounded buffer, so logs survive a timeout kill or a crash. Stdlib only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import json
import logging
import os
import pickle
import socket
import sys
import time
import traceback
from typing import Any, NoReturn

from bifrost.runtime import errors, isolation, sdk, wire
from bifrost.runtime.client import CLIENT, ENV_GENERATION, ENV_VIRTUAL
from bifrost.runtime.importer import VirtualImporter

MAX_RESULT_BYTES = 16 << 20


class ExecutionError(Exception):
    """A failure of the request itself (bad name, parameters or result), not of user code."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def main(
    sock: socket.socket,
    log_fd: int,
    request: dict[str, Any],
    importer: VirtualImporter,
    slot: int | None,
) -> NoReturn:
    """Entry point after ``fork`` for a request known at fork time; never returns."""
    code = 70
    try:
        isolation.isolate(sock.fileno(), log_fd, slot)
        code = _serve(sock, request, importer)
    except BaseException:
        _last_words()
    finally:
        os._exit(code)


def spare_main(
    sock: socket.socket, log_fd: int, importer: VirtualImporter, slot: int | None
) -> NoReturn:
    """Entry point of a spare: isolate and warm up now, then wait for one request."""
    code = 70
    try:
        isolation.isolate(sock.fileno(), log_fd, slot)
        _pretouch()
        payload = wire.recv_frame(sock)
        # No payload: the template dropped this spare.
        code = 0 if payload is None else _serve(sock, pickle.loads(payload)[1], importer)
    except BaseException:
        _last_words()
    finally:
        os._exit(code)


def _serve(sock: socket.socket, request: dict[str, Any], importer: VirtualImporter) -> int:
    isolation.set_limits(float(request.get("timeout_s") or 0), int(request.get("memory_mb") or 0))
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


def _valid_name(dotted: str) -> bool:
    return bool(dotted) and all(part.isidentifier() for part in dotted.split("."))


def _resolve(importer: VirtualImporter, module_name: str, function: str) -> Any:
    if not _valid_name(module_name) or not function.isidentifier():
        raise ExecutionError("ValueError", f"invalid entry point {module_name}:{function}")
    virtual = os.environ.get(ENV_VIRTUAL) != "0"
    rel = module_name.replace(".", "/")
    manifest = importer.snapshot.manifest
    if virtual and f"{rel}.py" not in manifest and f"{rel}/__init__.py" not in manifest:
        raise ModuleNotFoundError(f"No module named {module_name!r}", name=module_name)
    module = importlib.import_module(module_name)
    if virtual and not importer.owns(module):
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
        outcome = {
            "status": "failed",
            "result_json": "null",
            "error": errors.error(exc.kind, str(exc)),
        }
    except BaseException as exc:
        outcome = {"status": "failed", "result_json": "null", "error": errors.describe(exc)}
    outcome["child_ms"] = (time.perf_counter() - started) * 1000
    return outcome
