"""Execution parameters: bounded, finite JSON that fits the workflow's signature.

Parameters are stored with the run and sent to the worker, so they are checked before anything is
stored: a value nested 900 deep was accepted once and then broke every listing of executions,
and NaN was stored as ``null``. The signature check is the cheap part of what binding would do
(unknown or missing names, and the four simple annotations ``str``, ``int``, ``float``,
``bool``); anything richer is left to the workflow.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["InvalidParameters", "check_shape", "check_signature"]

_SIMPLE: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}
_VARIADIC = ("var_positional", "var_keyword")


class InvalidParameters(ValueError):
    """Parameters the run cannot take; ``str(exc)`` says which and why."""


def _where(path: tuple[str | int, ...]) -> str:
    return "parameters" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def check_shape(parameters: dict[str, Any], *, max_depth: int, max_bytes: int) -> None:
    """Refuse nesting deeper than ``max_depth``, NaN and infinities, and more than ``max_bytes``
    of compact JSON. Iterative, so no depth can exhaust the stack here."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(parameters, ())]
    while pending:
        value, path = pending.pop()
        if isinstance(value, dict | list):
            if len(path) >= max_depth:
                raise InvalidParameters(
                    f"{_where(path)} nests lists and objects more than {max_depth} levels deep "
                    "(BIFROST_MAX_PARAMETER_DEPTH); flatten the data"
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            pending.extend((item, (*path, key)) for key, item in items)
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidParameters(
                f"{_where(path)} is {value}, which JSON cannot carry; send a number or null"
            )
    size = len(json.dumps(parameters, separators=(",", ":")))
    if size > max_bytes:
        raise InvalidParameters(
            f"the parameters are {size:,} bytes as JSON; the limit is {max_bytes:,} bytes "
            "(BIFROST_MAX_PARAMETERS_BYTES): store large data as a workspace file and pass its path"
        )


def _simple_types(annotation: str | None) -> tuple[tuple[type, ...], bool] | None:
    """The accepted types of a simple annotation and whether None is allowed, else None."""
    if not annotation:
        return None
    names = [part.strip() for part in annotation.split("|")]
    optional = "None" in names
    names = [name for name in names if name != "None"]
    if len(names) != 1 or names[0] not in _SIMPLE:
        return None
    return _SIMPLE[names[0]], optional


def _fits(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int in Python, never in a signature's intent
        return bool in types
    return isinstance(value, types)


def check_signature(
    function: str, parameters: dict[str, Any], signature: list[dict[str, Any]]
) -> None:
    """Refuse names the function does not take, missing required ones, and values that do not
    match a simple annotation (``x: int``, ``name: str | None``)."""
    by_name = {p["name"]: p for p in signature if p["kind"] not in _VARIADIC}
    takes_any = any(p["kind"] == "var_keyword" for p in signature)
    for name, value in parameters.items():
        declared = by_name.get(name)
        if declared is None or declared["kind"] == "positional_only":
            if takes_any and declared is None:
                continue
            known = ", ".join(n for n, p in by_name.items() if p["kind"] != "positional_only")
            raise InvalidParameters(
                f"{function}() takes no parameter {name!r}; its parameters are: {known or 'none'}"
            )
        simple = _simple_types(declared.get("annotation"))
        if simple is None:
            continue
        types, optional = simple
        if not (_fits(value, types) or (optional and value is None)):
            raise InvalidParameters(
                f"{function}() parameter {name!r} is annotated {declared['annotation']}, "
                f"but the value sent is {json.dumps(value)[:80]} ({type(value).__name__})"
            )
    missing = [
        n
        for n, p in by_name.items()
        if not p["has_default"] and p["kind"] != "positional_only" and n not in parameters
    ]
    if missing:
        raise InvalidParameters(f"{function}() needs the parameters: {', '.join(missing)}")
