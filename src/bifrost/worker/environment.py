"""The template's environment: an allow-list of the supervisor's, never its credentials.

The supervisor holds database, cache and admin credentials in its environment; executions must not
see them, so the template (and every child it forks) gets only these variables.

The package directory is not on ``PYTHONPATH``: entries there come before the standard library,
so an installed ``selectors.py`` replaced the real one in the root template, and a
``sitecustomize.py`` or ``.pth`` file in it ran at every interpreter start (findings H1, C1). It
travels in ``BIFROST_RUNTIME_SYS_PATH`` instead, which the template appends to ``sys.path`` after
site-packages (:func:`bifrost.runtime.bootstrap.extend_sys_path`), once the interpreter has started.
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
    ENV_SYS_PATH,
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
    """The template's whole environment: an allow-list of the parent's, never its credentials.

    ``extra_sys_path``: directories executions import from after the standard library and
    site-packages (the package directory; ``BIFROST_EXPORT_DIR`` on the rollback path)."""
    source = os.environ if base is None else base
    out = {k: v for k, v in source.items() if k in SAFE_ENV or k.startswith("LC_")}
    out.setdefault("PATH", os.defpath)
    for key, value in (env or {}).items():
        if key.startswith("BIFROST_") or key.startswith("PYTHON"):
            raise ValueError(f"{key} is reserved and cannot be passed to executions")
        out[key] = str(value)
    checkout = runtime_pythonpath()  # Bifrost's own source: needed to start the template at all
    if checkout:
        out["PYTHONPATH"] = os.pathsep.join(checkout)
    after = [str(p) for p in extra_sys_path]
    if after:
        out[ENV_SYS_PATH] = os.pathsep.join(after)
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
