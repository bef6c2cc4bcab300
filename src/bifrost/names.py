"""Every name Bifrost shares between processes: Redis keys, event channels, queues, reserved paths.

One place, so two features cannot pick the same name by accident (job channels have their own
``job:`` prefix, apart from the package acknowledgements) and a reader sees the whole namespace.
Keys and queue names are built under ``BIFROST_CACHE_PREFIX``; channels are prefixed by the event
bus. Standard library only: the CLI imports it without loading any server code.
"""

from __future__ import annotations

from enum import StrEnum

# ---- reserved workspace paths --------------------------------------------------------------

REQUIREMENTS_PATH = "requirements.txt"  # the workspace's packages (see bifrost.packages)

# ---- job states (what the database and ``GET /api/jobs/{id}`` carry) ------------------------


class JobStatus(StrEnum):
    PENDING = "pending"  # recorded and queued, no scheduler has taken it yet
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


UNFINISHED_JOBS = (JobStatus.PENDING, JobStatus.RUNNING)

# ---- job kinds -----------------------------------------------------------------------------

INSTALL_PACKAGE_JOB = "packages.install"  # params: {"requirement"}
REMOVE_PACKAGE_JOB = "packages.remove"  # params: {"name"}
GITHUB_SYNC_JOB = "github.sync"  # params: {"conflict_resolutions", "confirm_orphans", "auto"}
SYNC_JOB = "sync.run"  # params: {"target", "options"} (bifrost.sync; github runs as github.sync)

# ---- sync targets (``bifrost.sync``), in the priority order ``sync("all")`` runs them ---------

SYNC_TARGETS = ("github", "modules", "requirements", "objects")
SYNC_ALL = "all"

# ---- leases (``bifrost.store.leases``: one holder at a time across every process) ------------

GITHUB_SYNC_LEASE = "github.sync"  # held by the job id of the running sync
SYNC_LEADER_LEASE = "sync.leader"  # held by the scheduler whose daemon runs automatic sync

# ---- event channels ------------------------------------------------------------------------

WORKERS_CHANNEL = "workers"  # {"action": "recycle", "hash", "generation", "reason"}
PACKAGE_ACKS_CHANNEL = "packages:workers"  # a worker's PrepareReport after it recycled
GITHUB_PUSH_CHANNEL = "github:push"  # {"repository", "branch", "after"}: the webhook saw a push


EXECUTION_CHANNELS = "execution:"  # the family of execution_channel(): one per run


def execution_channel(execution_id: str) -> str:
    """The outcome of one execution."""
    return f"{EXECUTION_CHANNELS}{execution_id}"


def job_channel(job_id: str, kind: str | None = None) -> str:
    """Progress, output lines and the final ``done`` event of one job. GitHub syncs publish on
    ``git:<id>`` (the channel the web page and the HTTP contract name), the other sync targets'
    jobs on ``sync:<id>``, every other job on ``job:<id>``."""
    if kind == GITHUB_SYNC_JOB:
        return f"git:{job_id}"
    if kind == SYNC_JOB:
        return f"sync:{job_id}"
    return f"job:{job_id}"


# ---- Redis keys (under the cache prefix) ---------------------------------------------------


def manifest_key(prefix: str) -> str:
    return f"{prefix}manifest"


def requirements_key(prefix: str) -> str:
    return f"{prefix}requirements:content"


def blob_key(prefix: str, sha256: str) -> str:
    return f"{prefix}blob:{sha256}"


def ws_ticket_key(prefix: str, digest: str) -> str:
    """A one-time WebSocket ticket (by its SHA-256), holding the token's name; expires by TTL."""
    return f"{prefix}ws-ticket:{digest}"


def events_prefix(prefix: str) -> str:
    """Redis pub/sub channels are this plus the channel name."""
    return f"{prefix}events:"


def presence_prefix(prefix: str, role: str) -> str:
    """Heartbeat keys of one role's live processes: this plus the process id."""
    return f"{prefix}{role}:"


WORKER_ROLE = "worker"
SCHEDULER_ROLE = "scheduler"

# ---- queues (SAQ names; SAQ adds its own ``saq:`` key prefix) ----------------------------------


def execution_queue(prefix: str) -> str:
    return f"{prefix}executions"


def job_queue(prefix: str) -> str:
    return f"{prefix}jobs"
