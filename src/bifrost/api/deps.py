"""What a request may use, set on ``app.state.services`` by the API role (bifrost.roles.api)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from bifrost.api.tickets import Tickets
from bifrost.cache.base import ModuleCache
from bifrost.events import EventBus
from bifrost.github.connection import GitHubService
from bifrost.jobs.runner import Jobs
from bifrost.packages.service import PackageService
from bifrost.secrets import SecretBox
from bifrost.settings import Settings
from bifrost.store.db import Database
from bifrost.store.executions import RecentWorkflows
from bifrost.store.files import Files
from bifrost.worker.dispatch import Dispatcher


@dataclass
class Services:
    settings: Settings
    db: Database
    cache: ModuleCache
    files: Files
    events: EventBus
    dispatcher: Dispatcher
    jobs: Jobs
    packages: PackageService
    secrets: SecretBox  # opens the stored GitHub token (bifrost.store.github)
    github: GitHubService
    live_workers: Callable[[], Awaitable[list[dict[str, Any]]]]
    tickets: Tickets  # one-time WebSocket tickets (bifrost.api.tickets)
    # Workflows run lately: a run of one costs one INSERT (bifrost.store.executions.create).
    recent_workflows: RecentWorkflows = field(default_factory=RecentWorkflows)


async def services(request: Request) -> Services:
    """``async`` only so that FastAPI calls it on the loop: a plain ``def`` dependency is run
    in the thread pool, a hand-off to a thread and back on every request."""
    return request.app.state.services
