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
from collections.abc import Mapping

from bifrost.runtime.client import CLIENT, ENV_GENERATION, ENV_ROOT, ENV_SOCKET, TemplateClient
from bifrost.runtime.importer import VirtualImporter, install, installed


def install_from_env(environ: Mapping[str, str] | None = None) -> VirtualImporter | None:
    """Install (once) the hook described by ``BIFROST_RUNTIME_*``; None outside an execution."""
    env = os.environ if environ is None else environ
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
