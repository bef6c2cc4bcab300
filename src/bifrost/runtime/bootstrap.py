"""Install the workspace hook from environment variables alone.

``spawn`` and ``forkserver`` children (the default start method from Python 3.14) do not inherit
the hook, so unpickling a workspace class there fails. Pass :func:`install_from_env` as the pool's
``initializer`` and the child imports workspace modules from the execution's pinned generation::

    from concurrent.futures import ProcessPoolExecutor
    from bifrost.runtime.bootstrap import install_from_env
    ProcessPoolExecutor(mp_context=get_context("spawn"), initializer=install_from_env)

Stdlib only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from bifrost.runtime.client import (
    CLIENT,
    ENV_GENERATION,
    ENV_ROOT,
    ENV_SOCKET,
    ENV_SYS_PATH,
    TemplateClient,
)
from bifrost.runtime.importer import VirtualImporter, install, installed


def extend_sys_path(environ: Mapping[str, str] | None = None) -> None:
    """Add ``BIFROST_RUNTIME_SYS_PATH`` (the package directory) after the standard library and
    site-packages, and before the workspace root, which stays last.

    Called once the interpreter has started, so nothing in the package directory runs at
    start-up: ``site`` never sees it (its ``.pth`` files are not honoured), and its
    ``sitecustomize``/``usercustomize`` are never imported. The standard library and
    site-packages are found first, whatever the package directory contains."""
    env = os.environ if environ is None else environ
    root = env.get(ENV_ROOT)
    for entry in filter(None, env.get(ENV_SYS_PATH, "").split(os.pathsep)):
        if entry not in sys.path:
            sys.path.insert(sys.path.index(root) if root in sys.path else len(sys.path), entry)


def install_from_env(environ: Mapping[str, str] | None = None) -> VirtualImporter | None:
    """Install (once) the hook described by ``BIFROST_RUNTIME_*``, after putting the package
    directory on ``sys.path``; None outside an execution."""
    env = os.environ if environ is None else environ
    extend_sys_path(env)
    root = env.get(ENV_ROOT)
    if not root:
        return None
    importer = installed(root)
    if importer is not None and importer.generation is not None:
        return importer
    client = CLIENT if environ is None else TemplateClient(address=env.get(ENV_SOCKET))
    importer = install(root, client.fetch)
    generation = env.get(ENV_GENERATION)
    if generation is not None:
        importer.pin(int(generation), client.manifest(int(generation)))
    return importer
