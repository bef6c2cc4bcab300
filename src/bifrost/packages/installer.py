"""Install requirements into the workers' package directory; tell cheaply when nothing is needed.

Worker start runs :meth:`Installer.check` on every boot, so the "already satisfied" answer must not
start a subprocess: it reads the ``*.dist-info`` directory names of the target (name and version are
in the name), and the ``Requires-Dist`` metadata only of the distributions it walks through, then
compares with ``packaging`` specifiers and markers. Only what is missing goes to the tool.

Upstream's outage #298: one package that could not be built made ``pip install -r`` install none of
the others. Here the missing requirements go in one batch (fast, resolved together) and, if that
fails, one by one, so every good package lands and each failure comes with the tool's own message.

``uv pip install --target`` is used when uv sits next to the interpreter or on ``PATH``, else
``python -m pip install --target``. Installs into one directory are serialised by an asyncio lock
and an ``flock`` (API and worker processes on one machine may share the directory). The installer's
environment drops every ``BIFROST_*`` variable: building an sdist runs third-party code, which must
not see the database URL or the admin token.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import fcntl
import functools
import importlib
import importlib.metadata
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bifrost.errors import UserError
from bifrost.jobs.progress import output, progress

if TYPE_CHECKING:
    from bifrost.settings import Settings

log = logging.getLogger(__name__)

Report = Callable[[dict[str, Any]], Awaitable[None]]
"""Receives output and progress events (bifrost.jobs.progress) while an install runs."""

LOCK_FILE = ".bifrost-install.lock"
_URL_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")  # https://user:token@mirror/simple
MESSAGE_LINES = 40  # lines of the tool's output kept as a failure's message
MESSAGE_CHARS = 4000


@dataclass
class Dist:
    """An installed distribution of the target directory."""

    name: str  # canonical
    version: Version | None
    path: Path  # its .dist-info directory

    def requires(self) -> list[Requirement]:
        found = [_requirement(text) for text in _requires_dist(self.path / "METADATA")]
        return [req for req in found if req is not None]


def _requires_dist(metadata: Path) -> list[str]:
    """The ``Requires-Dist`` headers, read directly: the e-mail parser behind importlib.metadata
    costs about a millisecond per distribution, most of the whole check."""
    try:
        text = metadata.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[str] = []
    inside = False
    for line in text.replace("\r\n", "\n").split("\n\n", 1)[0].splitlines():
        if line[:1] in (" ", "\t"):
            if inside:
                found[-1] += " " + line.strip()  # a folded header line
            continue
        inside = line[:14].lower() == "requires-dist:"
        if inside:
            found.append(line[14:].strip())
    return found


@functools.lru_cache(maxsize=4096)
def _requirement(text: str) -> Requirement | None:
    """Parsed once per process: packaging's parser is the other big cost of a check."""
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


@dataclass
class Check:
    missing: list[Requirement]  # top-level requirements to (re)install
    needed: set[str]  # canonical names of installed distributions the requirements use


@dataclass
class InstallResult:
    installed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # requirement -> the tool's message
    removed: list[str] = field(default_factory=list)
    tool: str | None = None
    seconds: float = 0.0
    check: Check | None = field(default=None, repr=False)  # still valid when nothing installed


def applies(requirement: Requirement, extras: Iterable[str] = ("",)) -> bool:
    """Whether the marker holds here; an unevaluable marker counts as true (the tool decides)."""
    if requirement.marker is None:
        return True
    try:
        return any(requirement.marker.evaluate({"extra": extra}) for extra in extras)
    except Exception:
        return True


def installed(target: Path) -> dict[str, Dist]:
    """Distributions in ``target`` by canonical name, from directory names alone when possible."""
    found: dict[str, Dist] = {}
    try:
        entries = list(os.scandir(target))
    except FileNotFoundError:
        return found
    for entry in entries:
        if not entry.name.endswith(".dist-info") or not entry.is_dir():
            continue
        raw_name, _, raw_version = entry.name[: -len(".dist-info")].partition("-")
        path = Path(entry.path)
        try:
            version: Version | None = Version(raw_version)
        except InvalidVersion:
            metadata = importlib.metadata.PathDistribution(path).metadata
            raw_name, version = metadata["Name"] or raw_name, None
            with contextlib.suppress(InvalidVersion, TypeError):
                version = Version(metadata["Version"])
        name = canonicalize_name(raw_name)
        found.setdefault(name, Dist(name, version, path))
    return found


def check(requirements: Sequence[Requirement], target: Path) -> Check:
    """What must be installed for ``requirements`` to hold in ``target``, dependencies included."""
    dists = installed(target)
    needed: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()

    def satisfied(req: Requirement) -> bool:
        name = canonicalize_name(req.name)
        dist = dists.get(name)
        if dist is None or dist.version is None:
            return False
        if not req.specifier.contains(dist.version, prereleases=True):
            return False
        needed.add(name)
        key = (name, frozenset(req.extras))
        if key in seen:
            return True
        seen.add(key)
        extras = ("", *sorted(req.extras))
        return all(satisfied(dep) for dep in dist.requires() if applies(dep, extras))

    missing = [req for req in requirements if applies(req) and not satisfied(req)]
    return Check(missing, needed)


def remove_dist(target: Path, dist: Dist) -> bool:
    """Delete the files its RECORD lists (inside ``target`` only), then emptied directories."""
    record = dist.path / "RECORD"
    if not record.is_file():
        log.warning("cannot remove %s from %s: it has no RECORD", dist.name, target)
        return False
    root = target.resolve()
    touched: set[Path] = set()
    with record.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if not row:
                continue
            path = (target / row[0]).resolve()
            if root not in path.parents:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            touched.update(p for p in path.parents if root in p.parents)
    shutil.rmtree(dist.path, ignore_errors=True)
    for directory in sorted(touched, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            left = {child.name for child in directory.iterdir()}
            if left <= {"__pycache__"}:
                shutil.rmtree(directory)
    return True


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def target_lock(target: Path) -> AsyncIterator[None]:
    """One installer at a time per directory: in this process, and across processes (flock)."""
    locks = _locks.setdefault(asyncio.get_running_loop(), {})
    async with locks.setdefault(target, asyncio.Lock()):
        target.mkdir(parents=True, exist_ok=True)
        fd = os.open(target / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the flock


def find_uv() -> str | None:
    beside = Path(sys.executable).with_name("uv")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("uv")


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIFROST_")}
    env.pop("PYTHONPATH", None)
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


class Installer:
    """Installs into one target directory with uv or pip and the administrator's index options."""

    def __init__(
        self,
        target: Path,
        *,
        tool: str = "auto",
        index_args: Sequence[str] = (),
        timeout_s: float = 600.0,
    ) -> None:
        self.target = target
        self.index_args = list(index_args)
        self.timeout_s = timeout_s
        uv = find_uv() if tool in ("auto", "uv") else None
        if tool == "uv" and uv is None:
            raise UserError(
                "BIFROST_PACKAGE_INSTALLER=uv but uv is not installed on this machine: "
                "install uv, or set BIFROST_PACKAGE_INSTALLER=auto to fall back to pip",
                503,
            )
        self.uv = uv

    @classmethod
    def from_settings(cls, settings: Settings) -> Installer:
        return cls(
            settings.packages_path,
            tool=settings.package_installer,
            index_args=shlex.split(settings.package_index_args),
            timeout_s=settings.package_install_timeout_s,
        )

    @property
    def tool(self) -> str:
        return "uv" if self.uv else "pip"

    def check(self, requirements: Sequence[Requirement]) -> Check:
        return check(requirements, self.target)

    def command(self, requirements: Sequence[str]) -> list[str]:
        if self.uv:
            head = [self.uv, "pip", "install", "--python", sys.executable, "--no-progress"]
            # Byte-compiled now, so imports in executions never pay for it (and work read-only).
            head += ["--color", "never", "--compile-bytecode", "--target", str(self.target)]
        else:
            head = [sys.executable, "-m", "pip", "install", "--target", str(self.target)]
            head += ["--upgrade", "--no-input", "--progress-bar", "off", "--compile"]
        return [*head, *self.index_args, *requirements]

    async def install(
        self, requirements: Sequence[Requirement], report: Report | None = None
    ) -> InstallResult:
        """Install whatever of ``requirements`` the target lacks: a batch, then one by one."""
        async with target_lock(self.target):
            return await self._install(requirements, report)

    async def sync(
        self, requirements: Sequence[Requirement], report: Report | None = None
    ) -> InstallResult:
        """Make the target match: install what is missing, remove what nothing requires."""
        async with target_lock(self.target):
            result = await self._install(requirements, report)
            result.removed = await asyncio.to_thread(self._prune, requirements, result.check)
            return result

    async def prune(self, requirements: Sequence[Requirement]) -> list[str]:
        """Remove distributions that no requirement uses (after an uninstall or a hand edit)."""
        async with target_lock(self.target):
            return await asyncio.to_thread(self._prune, requirements)

    def _prune(self, requirements: Sequence[Requirement], found: Check | None = None) -> list[str]:
        """``found``: a check made since the last change of the directory, reused."""
        found = found or self.check(requirements)
        # A requirement that failed to install keeps its older copy: better than nothing.
        keep = found.needed | {canonicalize_name(r.name) for r in requirements}
        removed = [
            dist.name
            for dist in installed(self.target).values()
            if dist.name not in keep and remove_dist(self.target, dist)
        ]
        if removed:
            importlib.invalidate_caches()
        return removed

    async def _install(
        self, requirements: Sequence[Requirement], report: Report | None
    ) -> InstallResult:
        started = time.perf_counter()
        result = InstallResult(tool=self.tool)
        result.check = await asyncio.to_thread(self.check, requirements)
        missing = list(dict.fromkeys(str(r) for r in result.check.missing))
        if missing:
            await _emit(report, progress("install", 0, len(missing), ", ".join(missing)))
            code, message = await self._run(missing, report)
            if code == 0:
                result.installed = missing
            elif len(missing) == 1:
                result.failed[missing[0]] = message
            else:
                log.warning("batch install failed; installing one by one: %s", message)
                for index, item in enumerate(missing, 1):
                    await _emit(report, progress("install one by one", index, len(missing), item))
                    code, message = await self._run([item], report)
                    if code == 0:
                        result.installed.append(item)
                    else:
                        result.failed[item] = message
            importlib.invalidate_caches()
            result.check = None  # the directory changed
        for item, message in result.failed.items():
            log.error("could not install %s with %s: %s", item, self.tool, message)
        result.seconds = time.perf_counter() - started
        return result

    async def _run(self, requirements: Sequence[str], report: Report | None) -> tuple[int, str]:
        """Run the tool, streaming its merged output; returns (exit code, tail of the output)."""
        command = self.command(requirements)
        log.info("running %s", _URL_CREDENTIALS.sub(r"\1***@", shlex.join(command)))
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=_environment(),
            start_new_session=True,  # a timeout kills the tool and its build backends
        )
        tail: list[str] = []

        async def pump() -> None:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                tail.append(line)
                del tail[:-MESSAGE_LINES]
                await _emit(report, output(line))

        try:
            await asyncio.wait_for(pump(), self.timeout_s)
            code = await proc.wait()
        except (TimeoutError, asyncio.CancelledError) as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            tail.append(f"{self.tool} took longer than {self.timeout_s:.0f} s and was stopped")
            code = -1
        message = "\n".join(line for line in tail if line.strip())[-MESSAGE_CHARS:]
        return code, message or f"{self.tool} exited with status {code}"


async def _emit(report: Report | None, event: dict[str, Any]) -> None:
    if report is None:
        return
    try:
        await report(event)
    except Exception as exc:  # a lost progress event must never fail an install
        log.debug("progress report failed: %s", exc)
