"""Installing, removing and listing the workspace's packages (installs and removals run as jobs
on a scheduler; the worker's half is packages/worker.py).

Validate with ``packaging``; install into this machine's package directory first, so a package
that cannot be installed, or would shadow the interpreter, is refused with the reason and never
reaches the file; update the file with a compare-and-swap on its hash, retried on a conflict, so
concurrent installs and hand edits all survive; then wait for the workers to confirm.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from bifrost.errors import Conflict, InvalidInput, NotFound, Unavailable
from bifrost.events import EventBus
from bifrost.jobs.progress import progress
from bifrost.names import PACKAGE_ACKS_CHANNEL, REQUIREMENTS_PATH
from bifrost.packages.installer import Installer, Report, installed
from bifrost.store.files import Files
from bifrost.workspace import requirements as reqs

if TYPE_CHECKING:
    from bifrost.settings import Settings

log = logging.getLogger(__name__)

CAS_ATTEMPTS = 25
LiveWorkers = Callable[[], Awaitable[list[dict[str, Any]]]]


@dataclass
class FileUpdate:
    changed: bool
    hash: str | None
    generation: int
    content: str


async def _read_requirements(files: Files) -> tuple[str, str | None]:
    try:
        row, raw = await files.read(REQUIREMENTS_PATH)
    except NotFound:
        return "", None
    try:
        return raw.decode("utf-8"), row.content_hash
    except UnicodeDecodeError as exc:
        raise Conflict("requirements.txt is not UTF-8 text; fix it first") from exc


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
            result = await files.write(
                REQUIREMENTS_PATH, new.encode(), user=user, expected_hash=current
            )
        except Conflict:
            if attempt == CAS_ATTEMPTS - 1:
                raise
            await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
            continue
        return FileUpdate(True, result.file.content_hash, result.generation, new)
    raise AssertionError("unreachable")


async def _ignore(event: dict[str, Any]) -> None:
    return None


class PackageService:
    """Install, remove and list packages. ``live_workers`` lists the workers to wait for."""

    def __init__(
        self, settings: Settings, files: Files, events: EventBus, live_workers: LiveWorkers
    ) -> None:
        self.settings = settings
        self.files = files
        self.events = events
        self.live_workers = live_workers

    async def install(
        self, requirement: str, *, user: str | None = None, report: Report = _ignore
    ) -> dict[str, Any]:
        """Install one requirement for the whole workspace; InvalidInput saying why when it
        cannot be installed or is refused, and then requirements.txt is left as it was."""
        parsed = reqs.parse_requirement(requirement)
        installer = Installer.from_settings(self.settings)
        result = await installer.install([parsed], report=report)
        if result.failed:
            message = next(iter(result.failed.values()))
            raise InvalidInput(f"could not install {parsed}: {message}")
        applied = await self._apply(lambda c: reqs.add(c, parsed), user, report)
        return {
            "requirement": str(parsed),
            "name": canonicalize_name(parsed.name),
            "installed": result.installed,
            "tool": installer.tool,
            **applied,
        }

    async def remove(
        self, name: str, *, user: str | None = None, report: Report = _ignore
    ) -> dict[str, Any]:
        """Remove a package's lines from requirements.txt; every worker then uninstalls it."""
        wanted = reqs.canonical_name(name)
        removed: list[str] = []

        def edit(content: str) -> str:
            new, lines = reqs.remove(content, wanted)
            removed[:] = lines
            return new

        async def uninstall_here(content: str) -> dict[str, Any]:
            installer = Installer.from_settings(self.settings)
            return {"uninstalled": await installer.prune(reqs.requirements(content))}

        applied = await self._apply(edit, user, report, uninstall_here)
        if not removed:
            raise NotFound(f"{wanted} is not in requirements.txt")
        return {"name": wanted, "lines": removed, **applied}

    async def list(self) -> dict[str, Any]:
        """The requirements, what this machine has installed for them, and each worker's state."""
        content, current = await _read_requirements(self.files)
        local = await asyncio.to_thread(installed, self.settings.packages_path)
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
                {"id": w.get("id"), **(w.get("packages") or {})} for w in await self.live_workers()
            ]
        except Unavailable as exc:
            log.warning("cannot list workers: %s", exc)
            workers = []
        return {"hash": current, "packages": packages, "ignored": ignored, "workers": workers}

    async def _apply(
        self,
        edit: Callable[[str], str],
        user: str | None,
        report: Report,
        local: Callable[[str], Awaitable[dict[str, Any]]] | None = None,
    ) -> dict[str, Any]:
        """Update the file, run ``local`` on the new content (this machine's directory), then
        wait until the workers have recycled onto it."""
        await report(progress("update requirements.txt", 0, 1))
        body: dict[str, Any] = {}
        # Subscribe before the write: miss no acknowledgement.
        async with self.events.subscribe(PACKAGE_ACKS_CHANNEL) as acks:
            update = await update_requirements(self.files, edit, user=user)
            workers: dict[str, Any] = {}
            waiting: list[str] = []
            if update.changed:
                if local is not None:
                    body.update(await local(update.content))
                await report(progress("recycle workers", 0, 1))
                workers, waiting = await self._wait_for_workers(acks, update.generation)
        return {
            "changed": update.changed,
            "hash": update.hash,
            "generation": update.generation,
            **body,
            "workers": workers,
            "waiting_for": waiting,
        }

    async def _wait_for_workers(
        self, acks: asyncio.Queue, generation: int
    ) -> tuple[dict[str, Any], list[str]]:
        """Acknowledgements of every live worker for ``generation`` (or newer), until the
        deadline."""
        try:
            expected = {w["id"] for w in await self.live_workers()}
        except Unavailable as exc:
            log.warning("cannot list the workers to wait for: %s", exc)
            return {}, []
        answered: dict[str, Any] = {}
        deadline = time.monotonic() + self.settings.package_recycle_wait_s
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
