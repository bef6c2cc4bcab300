"""Can one workflow stand in for another? A comparison of two stored signatures.

An orphan keeps its id so that every form, agent, app and schedule that names it keeps working
once it points at another function. That is only safe if every call that was valid for the old
function is valid for the new one. Bifrost passes parameters by name (``execute`` sends a JSON
object), so names matter, not positions: each parameter the old function accepted by name must
still be accepted, nothing new may be required, variadic parameters must stay, and annotations
(parameters and return) must not contradict each other. Pure: no I/O, no database.

``exact`` means the same signature; ``compatible`` means every old call still binds, with the
differences listed; anything else is incompatible and names the parameter at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Match", "Rank", "Signature", "compare"]

_BY_NAME = ("positional_or_keyword", "keyword_only")


class Rank(StrEnum):
    EXACT = "exact"
    COMPATIBLE = "compatible"
    INCOMPATIBLE = "incompatible"


@dataclass(frozen=True)
class Signature:
    """What a workflow row stores of its function: its kind, parameters and return annotation."""

    kind: str
    parameters: list[dict[str, Any]]
    returns: str | None = None


@dataclass(frozen=True)
class Match:
    """The verdict, with the reason a person reads; ``parameter`` names the culprit, if one."""

    rank: Rank
    reason: str
    parameter: str | None = None

    @property
    def usable(self) -> bool:
        return self.rank is not Rank.INCOMPATIBLE


def _normalized(annotation: str | None) -> frozenset[str] | None:
    """``Optional[int]``, ``int | None`` and ``None | int`` are one annotation."""
    if not annotation:
        return None
    text = annotation.replace(" ", "")
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[len("Optional[") : -1] + "|None"
    return frozenset(text.split("|"))


def _shown(parameter: dict[str, Any]) -> str:
    return json.dumps(parameter.get("default"))


def _variadic(signature: Signature, kind: str) -> dict[str, Any] | None:
    return next((p for p in signature.parameters if p["kind"] == kind), None)


def compare(old: Signature, new: Signature) -> Match:
    """Whether ``new`` can replace ``old`` for every caller of ``old``; why, or why not."""

    def refuse(reason: str, parameter: str | None = None) -> Match:
        return Match(Rank.INCOMPATIBLE, reason, parameter)

    if old.kind != new.kind:
        return refuse(f"it is a {new.kind}, and the orphan is a {old.kind}")
    notes: list[str] = []
    new_by_name = {p["name"]: p for p in new.parameters if p["kind"] in _BY_NAME}
    new_takes_any = _variadic(new, "var_keyword") is not None
    for parameter in old.parameters:
        name, kind = parameter["name"], parameter["kind"]
        if kind == "var_keyword":
            if not new_takes_any:
                return refuse(f"**{name}: callers may pass any keyword, and it takes none", name)
            continue
        if kind == "var_positional":
            if _variadic(new, "var_positional") is None:
                return refuse(f"*{name}: callers may pass extra positional arguments", name)
            continue
        if kind == "positional_only":
            continue  # Bifrost cannot pass it by name, so no caller of the orphan does
        target = new_by_name.get(name)
        if target is None:
            if new_takes_any:
                notes.append(f"{name} is taken by **kwargs")
                continue
            needed = "required" if not parameter["has_default"] else "optional"
            return refuse(f"parameter {name!r} ({needed}) is missing", name)
        before, after = (
            _normalized(parameter.get("annotation")),
            _normalized(target.get("annotation")),
        )
        if before and after and not before <= after:
            return refuse(
                f"parameter {name!r} is annotated {target['annotation']}, "
                f"and the orphan's is {parameter['annotation']}",
                name,
            )
        if before != after:
            notes.append(f"{name}'s annotation differs")
        if parameter["has_default"] and not target["has_default"]:
            return refuse(f"parameter {name!r} becomes required; callers may leave it out", name)
        if target["has_default"] and not parameter["has_default"]:
            notes.append(f"{name} gains a default")
        elif parameter["has_default"] and _shown(parameter) != _shown(target):
            notes.append(f"{name}'s default changes from {_shown(parameter)} to {_shown(target)}")
        if kind != target["kind"]:
            notes.append(f"{name} is {target['kind'].replace('_', '-')}")
    old_names = {p["name"] for p in old.parameters}
    for parameter in new.parameters:
        if parameter["kind"] in ("var_positional", "var_keyword") or parameter["has_default"]:
            if parameter["name"] not in old_names:
                notes.append(f"adds the optional {parameter['name']}")
            continue
        if parameter["name"] not in old_names:
            return refuse(
                f"it requires {parameter['name']!r}, which callers do not pass", parameter["name"]
            )
    before, after = _normalized(old.returns), _normalized(new.returns)
    if before and after and not after <= before | {"None"}:
        return refuse(f"it returns {new.returns}, and the orphan returned {old.returns}")
    if before != after:
        notes.append("the return annotation differs")
    if not notes and [p["name"] for p in old.parameters] == [p["name"] for p in new.parameters]:
        return Match(Rank.EXACT, "the same signature")
    if not notes:
        notes.append("the parameters are in another order")
    return Match(Rank.COMPATIBLE, "every call still binds; " + "; ".join(notes))
