"""The ``sync.run`` job: a target other than ``github`` alone (``all`` included), started by
``POST /api/sync/{target}`` and run by a scheduler, its events on ``sync:<job_id>``."""

from __future__ import annotations

from typing import Any

from bifrost.context import Context
from bifrost.jobs.runner import JobHandler, JobRun
from bifrost.sync.run import run_target


def handler(ctx: Context, runner: str) -> JobHandler:
    async def run(job: JobRun) -> dict[str, Any]:
        target = job.params["target"]
        options = job.params.get("options") or {}
        return await run_target(
            ctx, target, options, runner=runner, user=job.created_by, report=job.report
        )

    return run
