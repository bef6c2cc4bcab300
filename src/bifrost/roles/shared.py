"""What the roles of a deployment share: the work queues, the rosters of live processes, and the
package service; plus the hardening of every process that holds credentials.

Embedded mode (no Redis) keeps all of it in this process's memory, so ``bifrost up`` must give
the same :class:`Transport` to all its roles; distributed mode puts it in Redis, where every
process finds it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import socket
from dataclasses import dataclass

from bifrost import names
from bifrost.context import Context
from bifrost.packages.service import PackageService
from bifrost.worker.heartbeat import LocalRoster, RedisRoster, Roster
from bifrost.worker.queue import LocalQueue, SaqQueue, WorkQueue

PR_SET_DUMPABLE = 4


@dataclass
class Transport:
    executions: WorkQueue  # execution requests, from the API to the workers
    jobs: WorkQueue  # job ids, from the API to the schedulers
    workers: Roster
    schedulers: Roster

    async def close(self) -> None:
        await self.executions.close()
        await self.jobs.close()


def open_transport(ctx: Context) -> Transport:
    if ctx.redis is None:
        return Transport(LocalQueue(), LocalQueue(), LocalRoster(), LocalRoster())
    prefix = ctx.settings.cache_prefix
    return Transport(
        SaqQueue(ctx.redis, names.execution_queue(prefix), "execute", "request"),
        SaqQueue(ctx.redis, names.job_queue(prefix), "run_job", "job"),
        RedisRoster(ctx.redis, names.presence_prefix(prefix, names.WORKER_ROLE)),
        RedisRoster(ctx.redis, names.presence_prefix(prefix, names.SCHEDULER_ROLE)),
    )


def package_service(ctx: Context, transport: Transport) -> PackageService:
    return PackageService(ctx.settings, ctx.files, ctx.events, transport.workers.live)


def process_id() -> str:
    """Unique even for two containers on one host network, each its own pid 1: a worker closes
    the unrecorded runs of its own id, so two processes must never share one."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def protect_process() -> None:
    """Make this process non-dumpable: other processes of the same account (an execution, a
    package's build script) then cannot read its environment or memory, which hold credentials."""
    with contextlib.suppress(AttributeError, OSError):  # no such call on this libc
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0)
