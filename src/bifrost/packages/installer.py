"""Install requirements into the workers' package directory, through a staging directory.

Only what :func:`~bifrost.packages.distributions.check` finds missing goes to the tool. Upstream's
outage #298: one package that could not be built made ``pip install -r`` install none of the
others. Here the missing requirements go in one batch (fast, resolved together) and, if that fails,
one by one, so every good package lands and each failure comes with its reason.

Each attempt installs into a :class:`~bifrost.packages.staging.Staging` directory, which is
inspected and only then moved into the target: a distribution that would shadow the standard
library, ``sitecustomize``/``usercustomize`` or ``bifrost`` never reaches the directory executions
import from. The tool gets canonical project names only (``zope-interface``, never a string it
could read as a path or an archive), and direct references never get here.

``uv pip install --target`` is used when uv sits next to the interpreter or on ``PATH``, else
``python -m pip install --target``. Installs into one directory are serialised by an asyncio lock
and an ``flock`` on a mode 0600 file (API and worker processes on one machine may share the
directory; no other account can open it, so none can hold the lock: finding M7). The installer's
environment drops every ``BIFROST_*`` variable (building an sdist runs third-party code, which must
not see the database URL or the admin token) and ``PYTHONPATH``, and sets ``PYTHONSAFEPATH``, so no
interpreter it starts puts its working directory or the package directory on ``sys.path``.
Users get a summary of a failure (:mod:`bifrost.packages.output`); the log gets the output.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import importlib
import logging
import os
import shlex
import shutil
import signal
import sys
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bifrost.errors import Unavailable
from bifrost.jobs.progress import output, progress
from bifrost.packages.distributions import Check, check, installed, remove_dist
from bifrost.packages.output import redact, summarize
from bifrost.packages.staging import Staging, leftovers
from bifrost.runtime.confine import Policy

if TYPE_CHECKING:
    from bifrost.settings import Settings

log = logging.getLogger(__name__)

Report = Callable[[dict[str, Any]], Awaitable[None]]
"""Receives output and progress events (bifrost.jobs.progress) while an install runs."""

LOCK_FILE = ".bifrost-install.lock"
LOG_LINES = 200  # lines of the tool's output kept for the log and the summary of a failure


@dataclass
class InstallResult:
    installed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # requirement -> why, for users
    removed: list[str] = field(default_factory=list)
    tool: str | None = None
    seconds: float = 0.0
    check: Check | None = field(default=None, repr=False)  # still valid when nothing installed


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Path, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def target_lock(target: Path) -> AsyncIterator[None]:
    """One installer at a time per directory: in this process, and across processes (flock).

    The lock file is mode 0600: ``flock`` needs only an open descriptor, even a read-only one, so
    a file others can read is a lock others can hold. An older version made it 0644."""
    locks = _locks.setdefault(asyncio.get_running_loop(), {})
    async with locks.setdefault(target, asyncio.Lock()):
        target.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(target / LOCK_FILE, flags, 0o600)
        try:
            os.fchmod(fd, 0o600)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.05)
            await asyncio.to_thread(leftovers, target)
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
    env["PYTHONSAFEPATH"] = "1"  # `python -m pip` and uv's helpers: no working dir on sys.path
    return env


def argument(requirement: Requirement) -> str:
    """The requirement as the tool sees it: the canonical name, which uv and pip can only look
    up in the index (``x-1.0-py3-none-any.whl`` would be opened as a file)."""
    if requirement.url is not None:
        raise ValueError(f"direct references are never installed: {requirement}")
    text = canonicalize_name(requirement.name)
    if requirement.extras:
        text += f"[{','.join(sorted(requirement.extras))}]"
    text += str(requirement.specifier)
    return f"{text}; {requirement.marker}" if requirement.marker else text


class Installer:
    """Installs into one target directory with uv or pip and the administrator's index options."""

    def __init__(
        self,
        target: Path,
        *,
        tool: str = "auto",
        index_args: Sequence[str] = (),
        timeout_s: float = 600.0,
        confinement: Policy | None = Policy(),  # frozen: sharing the default is safe
        cache: Path | None = None,
    ) -> None:
        """``confinement``: how the tool (and the build scripts it runs) is confined; it may
        write only its staging directory and ``cache`` (default: next to the target). None:
        unconfined (``BIFROST_SANDBOX=off``)."""
        self.target = target
        self.index_args = list(index_args)
        self.timeout_s = timeout_s
        self.confinement = confinement
        self.cache = cache or target.with_name(f".{target.name}-build-cache")
        uv = find_uv() if tool in ("auto", "uv") else None
        if tool == "uv" and uv is None:
            raise Unavailable(
                "BIFROST_PACKAGE_INSTALLER=uv but uv is not installed on this machine: "
                "install uv, or set BIFROST_PACKAGE_INSTALLER=auto to fall back to pip"
            )
        self.uv = uv

    @classmethod
    def from_settings(cls, settings: Settings) -> Installer:
        from bifrost.sandbox import build_cache, build_policy

        return cls(
            settings.packages_path,
            tool=settings.package_installer,
            index_args=shlex.split(settings.package_index_args),
            timeout_s=settings.package_install_timeout_s,
            confinement=build_policy(settings),
            cache=build_cache(settings),
        )

    @property
    def tool(self) -> str:
        return "uv" if self.uv else "pip"

    def check(self, requirements: Sequence[Requirement]) -> Check:
        return check(requirements, self.target)

    def command(self, requirements: Sequence[str], into: Path | None = None) -> list[str]:
        """The tool's argv, installing into ``into`` (a staging directory) or the target."""
        target = str(into or self.target)
        if self.uv:
            head = [self.uv, "pip", "install", "--python", sys.executable, "--no-progress"]
            # Byte-compiled now, so imports in executions never pay for it (and work read-only).
            head += ["--color", "never", "--compile-bytecode", "--target", target]
        else:
            head = [sys.executable, "-m", "pip", "install", "--target", target]
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
        missing = list({str(r): r for r in result.check.missing}.items())
        if missing:
            labels = [label for label, _ in missing]
            await _emit(report, progress("install", 0, len(missing), ", ".join(labels)))
            problem = await self._attempt([r for _, r in missing], report)
            if problem is None:
                result.installed = labels
            elif len(missing) == 1:
                result.failed[labels[0]] = problem
            else:
                log.warning("batch install failed; installing one by one: %s", problem)
                for index, (label, requirement) in enumerate(missing, 1):
                    await _emit(report, progress("install one by one", index, len(missing), label))
                    problem = await self._attempt([requirement], report)
                    if problem is None:
                        result.installed.append(label)
                    else:
                        result.failed[label] = problem
            importlib.invalidate_caches()
            result.check = None  # the directory changed
        for label, problem in result.failed.items():
            log.error("could not install %s: %s", label, problem)
        result.seconds = time.perf_counter() - started
        return result

    async def _attempt(
        self, requirements: Sequence[Requirement], report: Report | None
    ) -> str | None:
        """One run of the tool into a fresh staging directory, moved into the target only if
        nothing in it is refused; returns why it failed, for users, or None."""
        staging = await asyncio.to_thread(Staging, self.target)
        try:
            arguments = [argument(r) for r in requirements]
            code, output = await self._run(arguments, staging.path, report)
            if code != 0:
                log.warning(
                    "%s could not install %s (exit status %s):\n%s",
                    self.tool,
                    " ".join(arguments),
                    code,
                    "\n".join(output),
                )
                return summarize(self.tool, code, output)
            changes = await asyncio.to_thread(staging.changes)
            refusal = staging.refusal(changes)
            if refusal is not None:
                return refusal
            await asyncio.to_thread(staging.commit, changes)
            return None
        finally:
            staging.discard()

    def _launch(self, command: list[str], into: Path) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that run ``command`` confined, like an execution
        (see ``bifrost.runtime.confine``): its own uid, only ``into`` and its cache writable."""
        env = _environment()
        if self.confinement is None:
            return command, env
        tools = [os.path.dirname(self.uv)] if self.uv else []
        local = [arg for arg in self.index_args if os.path.isabs(arg) and os.path.exists(arg)]
        policy = dataclasses.replace(
            self.confinement,
            keep=(*self.confinement.keep, *tools, *local),
            write=(*self.confinement.write, str(into), str(self.cache)),
        )
        env.update(UV_CACHE_DIR=str(self.cache), PIP_CACHE_DIR=str(self.cache))
        launcher = [sys.executable, "-m", "bifrost.runtime.confine", policy.to_json(), "--"]
        return [*launcher, *command], env

    async def _run(
        self, requirements: Sequence[str], into: Path, report: Report | None
    ) -> tuple[int, list[str]]:
        """Run the tool, streaming its merged output (credentials in URLs removed); returns the
        exit code and the last lines of the output."""
        command = self.command(requirements, into)
        log.info("running %s", redact(shlex.join(command)))
        argv, env = self._launch(command, into)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a timeout kills the tool and its build backends
            )
        except OSError as exc:  # the tool vanished or cannot be executed
            raise Unavailable(f"could not start {self.tool}: {exc}") from exc
        tail: list[str] = []

        async def pump() -> None:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = redact(raw.decode("utf-8", "replace").rstrip())
                tail.append(line)
                del tail[:-LOG_LINES]
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
            stopped = f"took longer than {self.timeout_s:.0f} s and was stopped"
            tail.append(f"error: {self.tool} {stopped}")
            code = -1
        return code, [line for line in tail if line.strip()]


async def _emit(report: Report | None, event: dict[str, Any]) -> None:
    if report is None:
        return
    try:
        await report(event)
    except Exception as exc:  # boundary: a lost progress event must never fail an install
        log.debug("progress report failed: %s", exc)
