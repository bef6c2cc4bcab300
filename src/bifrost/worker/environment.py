"""The template's environment: an allow-list of the supervisor's, never its credentials.

The supervisor holds database, cache and admin credentials in its environment; executions must not
see them, so the template (and every child it forks) gets only these variables.
"""

from __future__ import annotations

import json
import os
import site
from collections.abc import Iterable, Mapping, Sequence

from bifrost.runtime.client import (
    ENV_CONFINE,
    ENV_LIMITS,
    ENV_PRELOAD,
    ENV_ROOT,
    ENV_SOCKET,
    ENV_SPARE,
    ENV_VIRTUAL,
)
from bifrost.runtime.confine import Policy

SAFE_ENV = ("PATH", "HOME", "LANG", "LANGUAGE", "TZ")


def runtime_pythonpath() -> list[str]:
    """The directory holding ``bifrost`` when it is not installed in site-packages (a checkout)."""
    import bifrost

    parent = os.path.dirname(os.path.dirname(os.path.abspath(bifrost.__file__)))
    sites = {os.path.abspath(p) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    return [] if parent in sites else [parent]


def template_env(
    root: str,
    socket_path: str,
    extra_sys_path: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    preload: Sequence[str] = (),
    base: Mapping[str, str] | None = None,
    spare: bool = True,
    confinement: Policy | None = None,
    virtual: bool = True,
    limits: Mapping[str, int] | None = None,
) -> dict[str, str]:
    """The template's whole environment: an allow-list of the parent's, never its credentials."""
    source = os.environ if base is None else base
    out = {k: v for k, v in source.items() if k in SAFE_ENV or k.startswith("LC_")}
    out.setdefault("PATH", os.defpath)
    for key, value in (env or {}).items():
        if key.startswith("BIFROST_") or key.startswith("PYTHON"):
            raise ValueError(f"{key} is reserved and cannot be passed to executions")
        out[key] = str(value)
    paths = [*runtime_pythonpath(), *extra_sys_path]
    if paths:
        out["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    out[ENV_ROOT] = root
    out[ENV_SOCKET] = socket_path
    if preload:
        out[ENV_PRELOAD] = ",".join(preload)
    if not spare:
        out[ENV_SPARE] = "0"
    if confinement is not None:
        out[ENV_CONFINE] = confinement.to_json()
    if limits:
        out[ENV_LIMITS] = json.dumps(dict(limits))
    if not virtual:
        out[ENV_VIRTUAL] = "0"
    return out
