"""The request a worker runs: a recorded execution plus the limits its workflow's options set.

Built on the worker side of the line, so the store only records runs and never writes the
dispatch message; the decorator options are checked here before any row is written.
"""

from __future__ import annotations

from typing import Any

from bifrost.errors import InvalidInput
from bifrost.runtime.protocol import ExecutionRequest
from bifrost.store import executions
from bifrost.store.db import Database
from bifrost.store.models import Execution, Workflow
from bifrost.store.workflows import require_kept_code
from bifrost.workspace.parameters import check_signature
from bifrost.workspace.paths import module_name


def _timeout(workflow: Workflow, default_s: float, max_s: float) -> float:
    """The run's timeout: refused here when it is not one the runtime can wait for."""
    value = workflow.options.get("timeout", default_s)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= max_s:
        shown = f"{value:g}" if isinstance(value, float) else repr(value)
        raise InvalidInput(
            f"{workflow.path}: @workflow(timeout=...) must be a positive number of seconds, at "
            f"most {max_s:g} (BIFROST_MAX_EXECUTION_TIMEOUT_S), not {shown}; "
            "fix the decorator and save the file",
        )
    return float(value)


async def prepare(
    db: Database,
    workflow_id: str,
    parameters: dict,
    *,
    timeout_s: float,
    max_timeout_s: float,
    memory_mb: int,
    recent: executions.RecentWorkflows | None = None,
) -> tuple[Execution, ExecutionRequest]:
    """Record a pending run of an active workflow and build the request that dispatches it.

    Nothing is stored when an option is bad or the parameters do not fit the signature (422).
    ``recent`` lets a workflow run before be recorded in one statement."""

    def entry(workflow: Workflow) -> tuple[str, str, float, dict[str, Any]]:
        """What the request needs of the workflow; a bad option or parameter refuses the run.
        An orphan names its kept code (refused if it was orphaned before code was kept)."""
        timeout = _timeout(workflow, timeout_s, max_timeout_s)
        check_signature(workflow.function_name, parameters, workflow.parameters)
        require_kept_code(workflow)
        code: dict[str, Any] = {}
        if workflow.is_orphaned:
            code = {
                "kept_generation": workflow.orphaned_generation,
                "kept_path": workflow.path,
                "kept_hash": workflow.source_hash,
            }
        return module_name(workflow.path) or "", workflow.function_name, timeout, code

    execution, (module, function, timeout, code) = await executions.create(
        db, workflow_id, parameters, entry, recent
    )
    request = ExecutionRequest(
        execution_id=execution.id,
        module=module,
        function=function,
        parameters=parameters,
        generation=execution.generation,
        timeout_s=timeout,
        memory_mb=memory_mb,
        **code,
    )
    return execution, request
