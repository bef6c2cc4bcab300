"""The worker's half of packages: install what requirements.txt needs, and follow its changes.

``requirements.txt`` is a workspace file (the database is the source of truth), so a package
survives every restart of every worker: a worker installs what is missing from its own package
directory when it starts (:func:`prepare_worker`, before the import hook and the template start).

Every change of requirements.txt, whoever made it (the package service, a hand edit, a GitHub
pull), goes through :func:`requirements_listener`, which publishes ``recycle`` on the workers
channel. Each worker (:class:`RequirementsWatcher`) then installs what is missing, removes what is
no longer required, recycles its executor so the next execution imports the new code, and
acknowledges. Pub/sub can lose a message while Redis is away, so workers also compare the
requirements hash periodically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bifrost.cache.base import ModuleCache
from bifrost.cache.change import Change
from bifrost.errors import Unavailable
from bifrost.events import EventBus
from bifrost.names import PACKAGE_ACKS_CHANNEL, REQUIREMENTS_PATH, WORKERS_CHANNEL
from bifrost.packages.installer import Installer
from bifrost.workspace import requirements as reqs

if TYPE_CHECKING:
    from bifrost.settings import Settings
    from bifrost.store.files import Listener

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 15.0
UNKNOWN = "\x00unknown"  # a hash no file has: the next check installs whatever is there


@dataclass
class PrepareReport:
    """What a worker did to its package directory; shown in /api/health and /api/packages."""

    hash: str | None = None
    requirements: list[str] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # lines of the file that are not used
    error: str | None = None  # set when the requirements could not be read or applied
    generation: int = 0  # newest recycle message this report answers
    tool: str | None = None
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return asdict(self)


async def prepare_worker(settings: Settings, cache: ModuleCache) -> PrepareReport:
    """Install what requirements.txt needs into the package directory.

    Executions get that directory on their ``sys.path``, after the standard library and
    site-packages; the supervisor itself never imports from it, since it holds the credentials.
    Refused requirements (shadowing) are failures of the report, like ones that do not build.
    Never raises: a worker without its packages still runs everything else, and says why.
    """
    started = time.perf_counter()
    report = PrepareReport()
    target = settings.packages_path
    try:
        target.mkdir(parents=True, exist_ok=True)
        try:
            entry = await asyncio.wait_for(cache.requirements(), READ_TIMEOUT_S)
        except Exception as exc:  # boundary: any cache back end; the worker starts anyway
            report.error = f"could not read requirements.txt ({exc or type(exc).__name__})"
            log.warning("%s; starting without installing user packages", report.error)
            return report
        entries = reqs.parse((entry or {}).get("content") or "")
        report.hash = (entry or {}).get("hash")
        report.ignored = [f"{e.text}: {e.error}" for e in entries if e.error]
        wanted = [e.requirement for e in entries if e.requirement is not None]
        report.requirements = [str(r) for r in wanted]
        installer = Installer.from_settings(settings)
        report.tool = installer.tool
        result = await installer.sync(wanted)
        report.installed, report.failed, report.removed = (
            result.installed,
            result.failed,
            result.removed,
        )
        for line in report.ignored:
            log.warning("requirements.txt: ignored %s", line)
        if report.installed or report.removed:
            log.info("packages installed %s, removed %s", report.installed, report.removed)
    except Exception as exc:  # boundary: "never raises", see above
        report.error = f"could not install user packages: {exc!r}"
        log.exception("could not install user packages; starting without them")
    finally:
        report.seconds = round(time.perf_counter() - started, 4)
    return report


class RequirementsWatcher:
    """Worker loop: on ``recycle`` (or a hash change found by polling): prepare, recycle, ack.

    ``recycle`` replaces the execution process; ``publish_report`` makes the report visible in
    this worker's heartbeat at once.
    """

    def __init__(
        self,
        settings: Settings,
        cache: ModuleCache,
        events: EventBus,
        *,
        worker_id: str,
        recycle: Callable[[], Awaitable[None]],
        publish_report: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.events = events
        self.worker_id = worker_id
        self.recycle = recycle
        self.publish_report = publish_report

    async def run(self, prepared: PrepareReport) -> None:
        """Runs until cancelled and survives Redis outages (it re-subscribes and keeps polling)."""
        current = prepared.hash if prepared.error is None else UNKNOWN
        generation = prepared.generation
        while True:
            try:
                async with self.events.subscribe(WORKERS_CHANNEL) as inbox:
                    # Right after subscribing: a change may have slipped in before.
                    if await _hash_changed(self.cache, current):
                        current, generation = await self._apply(inbox, current, generation)
                    while True:
                        message = await self._next(inbox)
                        if message is None and not await _hash_changed(self.cache, current):
                            continue
                        if message is not None:
                            if message.get("action") != "recycle":
                                continue
                            generation = max(generation, int(message.get("generation") or 0))
                        current, generation = await self._apply(inbox, current, generation)
            except asyncio.CancelledError:
                raise
            except Exception:  # boundary: the watcher must outlive any failure
                log.exception("package watcher failed; restarting it")
                await asyncio.sleep(1.0)

    async def _next(self, inbox: asyncio.Queue) -> dict[str, Any] | None:
        """The next message, or None when the check interval passed without one."""
        try:
            return await asyncio.wait_for(inbox.get(), self.settings.package_check_interval_s)
        except TimeoutError:
            return None

    async def _apply(
        self, inbox: asyncio.Queue, current: str | None, generation: int
    ) -> tuple[str | None, int]:
        while not inbox.empty():  # one prepare answers every queued message
            queued = inbox.get_nowait()
            generation = max(generation, int(queued.get("generation") or 0))
        report = await prepare_worker(self.settings, self.cache)
        report.generation = generation
        if report.error is None:
            current = report.hash
        await self._recycle(report)
        return current, generation

    async def _recycle(self, report: PrepareReport) -> None:
        try:
            await self.recycle()
        except Exception as exc:  # boundary: reported in the acknowledgement and health
            log.exception("could not recycle the executor")
            report.error = report.error or f"could not restart the execution process: {exc!r}"
        await self.publish_report(report.summary())  # /api/health shows it now, not in 5 s
        with contextlib.suppress(Unavailable):
            await self.events.publish(
                PACKAGE_ACKS_CHANNEL, {"worker": self.worker_id, **report.summary()}
            )


async def _hash_changed(cache: ModuleCache, current: str | None) -> bool:
    """False also when nothing can be read: a worker must not recycle because the DB is down."""
    try:
        entry = await asyncio.wait_for(cache.requirements(), READ_TIMEOUT_S)
    except Exception:  # boundary: any cache back end; unreadable means unchanged
        return False
    return (entry or {}).get("hash") != current


def requirements_listener(events: EventBus) -> Listener:
    """A ``Files`` listener: recycle the workers on every change of requirements.txt (the cache
    has already stored the new content by then)."""

    async def on_change(change: Change) -> None:
        if REQUIREMENTS_PATH not in change.paths:
            return
        try:
            await events.publish(
                WORKERS_CHANNEL,
                {
                    "action": "recycle",
                    "reason": "requirements.txt changed",
                    "hash": change.paths[REQUIREMENTS_PATH],
                    "generation": change.generation,
                },
            )
        except Unavailable as exc:
            log.warning("could not tell the workers to recycle: %s", exc)

    return on_change
