"""Decorators that mark user functions as workflows or data providers.

They only attach metadata: the function is returned unchanged so that direct calls, tests and
``inspect`` keep working, and so that this module stays import-light (every execution loads it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

MARKER = "__bifrost__"


def _mark(kind: str, func: F, options: dict[str, Any]) -> F:
    if not callable(func):
        raise TypeError(f"@{kind} decorates a function, not {type(func).__name__}")
    meta: dict[str, Any] = {"kind": kind, "name": func.__name__, "description": None}
    doc = (getattr(func, "__doc__", None) or "").strip()
    if doc:
        meta["description"] = doc.splitlines()[0]
    meta.update({k: v for k, v in options.items() if v is not None})
    setattr(func, MARKER, meta)
    return func


def _decorator(kind: str, func: F | None, options: dict[str, Any]) -> Any:
    if func is None:
        return lambda f: _mark(kind, f, options)
    return _mark(kind, func, options)


@overload
def workflow(func: F, /) -> F: ...
@overload
def workflow(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    **options: Any,
) -> Callable[[F], F]: ...
def workflow(func: Any = None, /, **options: Any) -> Any:
    """Mark ``func`` as a workflow; usable bare or with keyword options (name, description, ...)."""
    return _decorator("workflow", func, options)


@overload
def data_provider(func: F, /) -> F: ...
@overload
def data_provider(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    **options: Any,
) -> Callable[[F], F]: ...
def data_provider(func: Any = None, /, **options: Any) -> Any:
    """Mark ``func`` as a data provider; usable bare or with keyword options."""
    return _decorator("data_provider", func, options)


def metadata(func: object) -> dict[str, Any] | None:
    """The ``__bifrost__`` metadata of a decorated function, or None if it is not decorated."""
    meta = getattr(func, MARKER, None)
    return meta if isinstance(meta, dict) and "kind" in meta else None
