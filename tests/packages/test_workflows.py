"""A workflow imports an installed package: right after the install, and after a worker restart
with an empty package directory. Real executor (template process and forked children)."""

from __future__ import annotations

import uuid
from pathlib import Path

from bifrost.runtime.protocol import ExecutionRequest
from tests.conftest import Backend
from tests.packages.conftest import Node, open_worker

WORKFLOW = b"""from bifrost import workflow


@workflow
def use_package() -> str:
    import bft_alpha
    import bft_beta

    return f"{bft_alpha.hello()} with beta {bft_beta.VERSION}"
"""


async def run(svc: Node, generation: int) -> dict:
    assert svc.executor is not None
    outcome = await svc.executor.run(
        ExecutionRequest(
            execution_id=uuid.uuid4().hex,
            module="workflows.use_package",
            function="use_package",
            generation=generation,
            timeout_s=30,
        )
    )
    return {"status": outcome.status, "result": outcome.result, "error": outcome.error}


async def test_install_import_restart_import_uninstall(
    pkg_backend: Backend, tmp_path: Path
) -> None:
    settings = pkg_backend.settings
    svc, prepared = await open_worker(settings, real_executor=True)
    try:
        assert prepared["error"] is None and prepared["requirements"] == []
        written = await svc.files.write("workflows/use_package.py", WORKFLOW)
        before = await run(svc, written.generation)
        assert before["status"] == "failed" and "bft_alpha" in before["error"]["message"]

        body = await svc.packages.install("bft-alpha>=1.0")
        assert body["waiting_for"] == [] and len(body["workers"]) == 1
        after = await run(svc, body["generation"])
        assert after == {
            "status": "success",
            "result": "bft-alpha 1.0 with beta 2.0",
            "error": None,
        }
    finally:
        await svc.close()

    # A new worker (a restarted container) with an empty package directory.
    fresh = settings.model_copy(update={"packages_dir": tmp_path / "fresh-container"})
    svc, prepared = await open_worker(fresh, real_executor=True)
    try:
        assert prepared["error"] is None and prepared["installed"] == ["bft-alpha>=1.0"]
        generation = (await svc.cache.snapshot()).generation
        assert (await run(svc, generation))["status"] == "success"

        body = await svc.packages.remove("bft-alpha")
        assert sorted(body["uninstalled"]) == ["bft-alpha", "bft-beta"]
        gone = await run(svc, body["generation"])
        assert gone["status"] == "failed" and "bft_alpha" in gone["error"]["message"]
    finally:
        await svc.close()
