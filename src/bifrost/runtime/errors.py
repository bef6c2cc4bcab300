"""Error descriptions for outcomes: type, message and a traceback of the user's frames only.

Stdlib only: it runs in execution processes and in the template.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import linecache
import os
import signal
import traceback
import types
from typing import Any

_HERE = os.path.dirname(__file__)
_RUNTIME_FILES = frozenset(
    os.path.join(_HERE, name)
    for name in (
        "child.py",
        "client.py",
        "errors.py",
        "importer.py",
        "isolation.py",
        "resources.py",
        "template.py",
        "wire.py",
    )
)
_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep
_IMPORTLIB_INIT = importlib.__file__


def error(kind: str, message: str, tb: str = "") -> dict[str, str]:
    return {"type": kind, "message": message, "traceback": tb}


def clean(value: Any) -> dict[str, str] | None:
    """An error dict from an untrusted peer, reduced to three strings."""
    if not isinstance(value, dict):
        return None
    return {key: str(value.get(key) or "") for key in ("type", "message", "traceback")}


def describe(exc: BaseException) -> dict[str, str]:
    """Error dict with a traceback of the user's frames only (runtime frames trimmed)."""
    _trim(exc, set())
    if isinstance(exc, ModuleNotFoundError):
        _name_the_import(exc)
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception as fmt_exc:  # boundary: user code; a broken __str__ must not lose the error
        text = f"{type(exc).__name__} (traceback unavailable: {fmt_exc!r})\n"
    try:
        message = str(exc)
    except Exception:  # boundary: user code's __str__ may raise anything
        message = repr(exc)
    return {"type": type(exc).__name__, "message": message, "traceback": text}


def _name_the_import(exc: ModuleNotFoundError) -> None:
    """``from shared.greeting import x`` with no ``shared`` left says "No module named 'shared'";
    add the module the statement asked for, read from the failing line."""
    tb = exc.__traceback__
    if not exc.name or tb is None or not isinstance(exc.msg, str):
        return
    while tb.tb_next is not None:
        tb = tb.tb_next
    line = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno).strip()
    try:
        tree = ast.parse(line)
    except SyntaxError:
        return
    wanted = [
        name
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module]
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
            else []
        )
        if name.startswith(exc.name + ".")
    ]
    if wanted:
        exc.msg = f"{exc.msg} (importing {max(wanted, key=len)!r})"


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


def describe_exit(status: int, timeout_s: float) -> str:
    """Why a child ended without reporting, from its ``waitpid`` status."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hint = {
            signal.SIGKILL: " (killed: out of memory, or by another process)",
            signal.SIGSEGV: " (segmentation fault)",
            signal.SIGXCPU: f" (CPU time limit for a {timeout_s:g} s timeout exceeded)",
            signal.SIGABRT: " (aborted)",
        }.get(sig, "")
        return f"the execution process died from {name}{hint} before reporting a result"
    code = os.waitstatus_to_exitcode(status)
    return f"the execution process exited with status {code} before reporting a result"
