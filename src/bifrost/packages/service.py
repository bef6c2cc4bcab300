"""Installing and removing packages, and bringing every worker in line with requirements.txt.

``requirements.txt`` is a workspace file (the database is the source of truth), so a package
survives every restart of every worker: a worker installs what is missing from its own package
directory when it starts (:func:`prepare_worker`, before the import hook and the template start).

API side (:func:`install`, :func:`remove`): validate with ``packaging``; install into this machine's
package directory first, so a package that cannot be installed, or would shadow the interpreter,
is refused with the reason and never reaches the file; update the file with a compare-and-swap on
its hash, retried on a conflict, so concurrent installs and hand edits all survive; then wait for
the workers to confirm.

Every change of requirements.txt, whoever made it (this API, a hand edit, a GitHub pull), goes
through :func:`requirements_listener`: it refreshes the cache entry ``requirements:content`` and
publishes ``recycle`` on the ``workers`` channel. Each worker (:func:`watch_requirements`) then
installs what is missing, removes what is no longer required, replaces its template process so the
next execution imports the new code, and acknowledges on ``packages:workers``. Pub/sub can lose a
message while Redis is away, so workers also compare the requirements hash periodically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from bifrost.cache.base import ModuleCache
from bifrost.cache.change import Change
from bifrost.errors import UserError
from bifrost.packages.installer import Installer, installed, progress
from bifrost.store.files import Files
from bifrost.workspace import requirements as reqs

if TYPE_CHECKING:
    from bifrost.services import Services
    from bifrost.settings import Settings
    from bifrost.store.files import Listener

log = logging.getLogger(__name__)

WORKERS_CHANNEL = "workers"  # {"action": "recycle", "hash", "generation", "reason"}
ACKS_CHANNEL = "packages:workers"  # a worker's PrepareReport after it recycled
CAS_ATTEMPTS = 25
READ_TIMEOUT_S = 15.0


def job_channel(job_id: str) -> str:
    return f"packages:{job_id}"


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


# ---- worker side -----------------------------------------------------------------------------


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
        except Exception as exc:
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
    except Exception as exc:
        report.error = f"could not install user packages: {exc!r}"
        log.exception("could not install user packages; starting without them")
    finally:
        report.seconds = round(time.perf_counter() - started, 4)
    return report


async def watch_requirements(services: Services, prepared: PrepareReport) -> None:
    """Worker loop: on ``recycle`` (or a hash change found by polling): prepare, recycle, ack.

    Runs until cancelled and survives Redis outages (it re-subscribes and keeps polling).
    """
    settings = services.settings
    current = prepared.hash if prepared.error is None else "\x00unknown"
    generation = prepared.generation
    if services.heartbeat is not None:
        services.heartbeat.info["packages"] = prepared.summary()
        await services.heartbeat.beat()
    while True:
        try:
            async with services.events.subscribe(WORKERS_CHANNEL) as inbox:
                check_now = True  # right after subscribing: a change may have slipped in before
                while True:
                    if not check_now:
                        try:
                            message = await asyncio.wait_for(
                                inbox.get(), settings.package_check_interval_s
                            )
                        except TimeoutError:
                            check_now = True
                        else:
                            if message.get("action") != "recycle":
                                continue
                            generation = max(generation, int(message.get("generation") or 0))
                    if check_now:
                        check_now = False
                        if not await _hash_changed(services.cache, current):
                            continue
                    while not inbox.empty():  # one prepare answers every queued message
                        queued = inbox.get_nowait()
                        generation = max(generation, int(queued.get("generation") or 0))
                    report = await prepare_worker(settings, services.cache)
                    report.generation = generation
                    if report.error is None:
                        current = report.hash
                    await _recycle(services, report)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("package watcher failed; restarting it")
            await asyncio.sleep(1.0)


async def _hash_changed(cache: ModuleCache, current: str | None) -> bool:
    """False also when nothing can be read: a worker must not recycle because the DB is down."""
    try:
        entry = await asyncio.wait_for(cache.requirements(), READ_TIMEOUT_S)
    except Exception:
        return False
    return (entry or {}).get("hash") != current


async def _recycle(services: Services, report: PrepareReport) -> None:
    if services.executor is not None:
        try:
            await services.executor.recycle()
        except Exception as exc:
            log.exception("could not recycle the executor")
            report.error = report.error or f"could not restart the execution process: {exc!r}"
    worker: dict[str, Any] = {}
    if services.heartbeat is not None:
        worker = services.heartbeat.info
        worker["packages"] = report.summary()
        await services.heartbeat.beat()  # /api/health and /api/packages show it now, not in 5 s
    with contextlib.suppress(Exception):
        await services.events.publish(
            ACKS_CHANNEL, {"worker": worker.get("id"), **report.summary()}
        )


# ---- every process that writes files -----------------------------------------------------------


def requirements_listener(services: Services) -> Listener:
    """A ``Files`` listener: recycle the workers on every change of requirements.txt (the cache
    has already stored the new content by then)."""

    async def on_change(change: Change) -> None:
        if reqs.PATH not in change.paths:
            return
        try:
            await services.events.publish(
                WORKERS_CHANNEL,
                {
                    "action": "recycle",
                    "reason": "requirements.txt changed",
                    "hash": change.paths[reqs.PATH],
                    "generation": change.generation,
                },
            )
        except Exception as exc:
            log.warning("could not tell the workers to recycle: %s", exc)

    return on_change


# ---- API side --------------------------------------------------------------------------------


@dataclass
class FileUpdate:
    changed: bool
    hash: str | None
    generation: int
    content: str


async def _read_requirements(files: Files) -> tuple[str, str | None]:
    try:
        row, raw = await files.read(reqs.PATH)
    except UserError as exc:
        if exc.status == 404:
            return "", None
        raise
    try:
        return raw.decode("utf-8"), row.content_hash
    except UnicodeDecodeError as exc:
        raise UserError("requirements.txt is not UTF-8 text; fix it first", 409) from exc


_update_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def update_requirements(
    files: Files, edit: Callable[[str], str], *, user: str | None = None
) -> FileUpdate:
    """Apply ``edit`` to requirements.txt with a compare-and-swap, re-reading on a conflict.

    Edits made in this process also queue on a lock: they would only fail each other's swaps.
    """
    lock = _update_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        return await _update(files, edit, user)


async def _update(files: Files, edit: Callable[[str], str], user: str | None) -> FileUpdate:
    for attempt in range(CAS_ATTEMPTS):
        content, current = await _read_requirements(files)
        new = edit(content)
        if new == content:
            return FileUpdate(False, current, 0, content)
        try:
            result = await files.write(reqs.PATH, new.encode(), user=user, expected_hash=current)
        except UserError as exc:
            if exc.status != 409 or attempt == CAS_ATTEMPTS - 1:
                raise
            await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
            continue
        return FileUpdate(True, result.file.content_hash, result.generation, new)
    raise AssertionError("unreachable")


async def _wait_for_workers(
    services: Services, acks: asyncio.Queue, generation: int
) -> tuple[dict[str, Any], list[str]]:
    """Acknowledgements of every live worker for ``generation`` (or newer), until the deadline."""
    from bifrost.worker.heartbeat import live_workers

    try:
        expected = {w["id"] for w in await live_workers(services)}
    except Exception as exc:
        log.warning("cannot list the workers to wait for: %s", exc)
        return {}, []
    answered: dict[str, Any] = {}
    deadline = time.monotonic() + services.settings.package_recycle_wait_s
    while expected - answered.keys():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            ack = await asyncio.wait_for(acks.get(), left)
        except TimeoutError:
            break
        if int(ack.get("generation") or 0) >= generation and ack.get("worker"):
            answered[ack["worker"]] = {
                k: ack.get(k) for k in ("installed", "failed", "removed", "error")
            }
    return answered, sorted(expected - answered.keys())


async def _apply(
    services: Services,
    edit: Callable[[str], str],
    user: str | None,
    report: Callable[[dict[str, Any]], Any],
    local: Callable[[str], Awaitable[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Update the file, run ``local`` on the new content (this machine's directory), then wait
    until the workers have recycled onto it."""
    await report(progress("update requirements.txt", 0, 1))
    body: dict[str, Any] = {}
    async with services.events.subscribe(ACKS_CHANNEL) as acks:  # before the write: miss nothing
        update = await update_requirements(services.files, edit, user=user)
        workers: dict[str, Any] = {}
        waiting: list[str] = []
        if update.changed:
            if local is not None:
                body.update(await local(update.content))
            await report(progress("recycle workers", 0, 1))
            workers, waiting = await _wait_for_workers(services, acks, update.generation)
    return {
        "changed": update.changed,
        "hash": update.hash,
        "generation": update.generation,
        **body,
        "workers": workers,
        "waiting_for": waiting,
    }


def _reporter(services: Services, job_id: str) -> Callable[[dict[str, Any]], Any]:
    channel = job_channel(job_id)

    async def report(event: dict[str, Any]) -> None:
        try:
            await services.events.publish(channel, event)
        except Exception as exc:
            log.debug("progress event lost: %s", exc)

    return report


async def install(
    services: Services, requirement: str, *, user: str | None = None, job_id: str | None = None
) -> dict[str, Any]:
    """Install one requirement for the whole workspace; UserError (422) saying why when it cannot
    be installed or is refused, and then requirements.txt is left as it was."""
    job_id = job_id or uuid.uuid4().hex
    report = _reporter(services, job_id)
    try:
        parsed = reqs.parse_requirement(requirement)
        installer = Installer.from_settings(services.settings)
        result = await installer.install([parsed], report=report)
        if result.failed:
            message = next(iter(result.failed.values()))
            raise UserError(f"could not install {parsed}: {message}", 422)
        applied = await _apply(services, lambda c: reqs.add(c, parsed), user, report)
    except UserError as exc:
        await report({"type": "done", "ok": False, "error": exc.message})
        raise
    except Exception as exc:
        await report({"type": "done", "ok": False, "error": repr(exc)})
        raise
    body = {
        "job_id": job_id,
        "requirement": str(parsed),
        "name": canonicalize_name(parsed.name),
        "installed": result.installed,
        "tool": installer.tool,
        **applied,
    }
    await report({"type": "done", "ok": True, **body})
    return body


async def remove(
    services: Services, name: str, *, user: str | None = None, job_id: str | None = None
) -> dict[str, Any]:
    """Remove a package's lines from requirements.txt; every worker then uninstalls it."""
    wanted = reqs.canonical_name(name)
    job_id = job_id or uuid.uuid4().hex
    report = _reporter(services, job_id)
    removed: list[str] = []

    def edit(content: str) -> str:
        new, lines = reqs.remove(content, wanted)
        removed[:] = lines
        return new

    async def uninstall_here(content: str) -> dict[str, Any]:
        installer = Installer.from_settings(services.settings)
        return {"uninstalled": await installer.prune(reqs.requirements(content))}

    applied = await _apply(services, edit, user, report, uninstall_here)
    if not removed:
        raise UserError(f"{wanted} is not in requirements.txt", 404)
    body = {"job_id": job_id, "name": wanted, "lines": removed, **applied}
    await report({"type": "done", "ok": True, **body})
    return body


async def list_packages(services: Services) -> dict[str, Any]:
    """The requirements, what this machine has installed for them, and each worker's state."""
    from bifrost.worker.heartbeat import live_workers

    content, current = await _read_requirements(services.files)
    local = await asyncio.to_thread(installed, services.settings.packages_path)
    packages, ignored = [], []
    for entry in reqs.parse(content):
        if entry.requirement is None:
            ignored.append({"line": entry.text, "error": entry.error})
            continue
        dist = local.get(entry.name)
        packages.append(
            {
                "name": entry.name,
                "requirement": str(entry.requirement),
                "installed_version": str(dist.version) if dist and dist.version else None,
            }
        )
    try:
        workers = [
            {"id": w.get("id"), **(w.get("packages") or {})} for w in await live_workers(services)
        ]
    except Exception as exc:
        log.warning("cannot list workers: %s", exc)
        workers = []
    return {"hash": current, "packages": packages, "ignored": ignored, "workers": workers}
