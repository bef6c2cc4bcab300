"""`bifrost migrate DIR | s3://bucket/prefix`: an existing workspace into the database.

Every file is read (several at once: S3 answers slowly one by one), checked as any write checks
it (path rules, names that would shadow a module, size, decoding) and compared by hash with what
the database holds. Files that cannot be imported are reported with the reason and the rest go
in as **one unit of work** (``Files.apply``): one transaction, one generation, workflows
registered and ``requirements.txt`` handed to the workers like any save. What is identical is
not written, so a second run changes nothing and the generation does not move. Files the
database holds and the source does not are left as they are (a migration adds, never deletes).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Literal

from bifrost import names
from bifrost.context import open_context
from bifrost.errors import BifrostError, InvalidInput
from bifrost.migrate.sources import Entry, Source, open_source
from bifrost.roles.shared import protect_process
from bifrost.settings import Settings
from bifrost.store.files import Files, Write, workspace_generation
from bifrost.store.models import WorkspaceFile
from bifrost.workspace.paths import Spellings

EXECUTABLE = "100755"  # the executable bit of a file on disk is kept, as git keeps it
MIGRATED_BY = "migrate"

Action = Literal["add", "update", "unchanged", "refused"]
Progress = Callable[[int, int, str], None]  # files read, of total, the last path


@dataclass
class Item:
    path: str
    action: Action
    size: int
    reason: str | None = None  # refused: why; otherwise a warning (a syntax error) or None
    workflows: int = 0


@dataclass
class Report:
    """What a migration did (or, with ``dry_run``, would do)."""

    source: str
    dry_run: bool
    items: list[Item] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    generation_before: int = 0
    generation_after: int = 0

    def count(self, action: Action) -> int:
        return sum(item.action == action for item in self.items)

    @property
    def changed(self) -> int:
        return self.count("add") + self.count("update")

    @property
    def workflows(self) -> int:
        return sum(item.workflows for item in self.items if item.action in ("add", "update"))

    @property
    def refused(self) -> list[Item]:
        return [item for item in self.items if item.action == "refused"]

    @property
    def warnings(self) -> list[Item]:
        return [item for item in self.items if item.action != "refused" and item.reason]

    @property
    def requirements(self) -> bool:
        """requirements.txt is among the files written: workers install its packages."""
        return any(
            item.path == names.REQUIREMENTS_PATH and item.action in ("add", "update")
            for item in self.items
        )

    @property
    def nothing_done(self) -> bool:
        """No file could be imported at all (not even as unchanged): the command failed."""
        return all(item.action == "refused" for item in self.items)

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "added": self.count("add"),
            "updated": self.count("update"),
            "unchanged": self.count("unchanged"),
            "changed": self.changed,
            "refused": [{"path": i.path, "reason": i.reason} for i in self.refused],
            "warnings": [{"path": i.path, "warning": i.reason} for i in self.warnings],
            "left_out": dict(self.left_out),
            "workflows": self.workflows,
            "requirements": self.requirements,
            "generation_before": self.generation_before,
            "generation_after": self.generation_after,
            "files": [asdict(item) for item in self.items],
        }


async def migrate_workspace(
    settings: Settings,
    where: str,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Import the workspace at ``where`` (a directory or ``s3://bucket/prefix``)."""
    protect_process()  # it holds the database's (and the bucket's) credentials
    source = open_source(settings, where)
    entries = await asyncio.to_thread(lambda: list(source.entries()))
    if not entries:
        raise InvalidInput(
            f"{source.describe()} holds no file to import"
            + (f" (left out: {_left_out_text(source)})" if source.left_out else "")
        )
    report = Report(source.describe(), dry_run)
    contents = await asyncio.to_thread(_read_all, source, entries, settings, progress)
    report.left_out = dict(sorted(source.left_out.items()))
    async with open_context(settings) as ctx:
        report.generation_before = await workspace_generation(ctx.db)
        live = {row.path: row for row in await ctx.files.list()}
        spellings = Spellings(live)
        reserved = ctx.files.reserved()
        writes: list[Write] = []
        for entry in entries:
            item, write = _plan(entry, contents.get(entry.path), ctx.files, reserved, live)
            if write is not None and write.path not in live:
                clash = spellings.clash(write.path)
                if clash is not None:
                    item = Item(entry.path, "refused", entry.size, _lookalike(write.path, clash))
                    write = None
                else:
                    spellings.add(write.path)
            report.items.append(item)
            if write is not None:
                writes.append(write)
        report.generation_after = report.generation_before
        if writes and not dry_run:
            applied = await ctx.files.apply(writes, user=MIGRATED_BY)
            report.generation_after = applied.generation
    return report


def _read_all(
    source: Source, entries: list[Entry], settings: Settings, progress: Progress | None
) -> dict[str, bytes | BifrostError | OSError]:
    """path -> content (or why it could not be read), ``source.readers`` at a time; files over
    the size limit and entries with a problem are not read."""
    wanted = [e for e in entries if e.problem is None and e.size <= settings.max_file_bytes]
    found: dict[str, bytes | BifrostError | OSError] = {}

    def one(entry: Entry) -> tuple[str, bytes | BifrostError | OSError]:
        try:
            return entry.path, source.read(entry.path)
        except (BifrostError, OSError) as exc:
            return entry.path, exc

    total = len(entries)
    done = total - len(wanted)
    if progress is not None:
        progress(done, total, "")
    with ThreadPoolExecutor(source.readers) as pool:
        for path, content in pool.map(one, wanted):
            found[path] = content
            done += 1
            if progress is not None:
                progress(done, total, path)
    return found


def _plan(
    entry: Entry,
    content: bytes | BifrostError | OSError | None,
    files: Files,
    reserved: dict[str, str],
    live: dict[str, WorkspaceFile],
) -> tuple[Item, Write | None]:
    """What to do with one file: refuse it (why), leave it (identical), or write it."""
    if entry.problem is not None:
        return Item(entry.path, "refused", entry.size, entry.problem), None
    if entry.size > files.max_bytes:
        reason = (
            f"{entry.size:,} bytes; the limit is {files.max_bytes:,} bytes (BIFROST_MAX_FILE_BYTES)"
        )
        return Item(entry.path, "refused", entry.size, reason), None
    if isinstance(content, OSError):
        return Item(entry.path, "refused", entry.size, f"cannot be read: {content}"), None
    if isinstance(content, BifrostError):
        return Item(entry.path, "refused", entry.size, str(content)), None
    assert content is not None
    try:
        path, found = files.check(entry.path, content, reserved)
    except InvalidInput as exc:
        return Item(entry.path, "refused", entry.size, str(exc)), None
    workflows = len(found.workflows)
    warning = f"imported with a syntax error: {found.syntax_error}" if found.syntax_error else None
    mode = EXECUTABLE if entry.executable else None
    row = live.get(path)
    if row is not None:
        same_mode = mode is None or row.mode == mode
        if row.content_hash == hashlib.sha256(content).hexdigest() and same_mode:
            return Item(path, "unchanged", entry.size, warning, workflows), None
        return Item(path, "update", entry.size, warning, workflows), Write(path, content, mode=mode)
    return Item(path, "add", entry.size, warning, workflows), Write(path, content, mode=mode)


def _lookalike(path: str, clash: str) -> str:
    return (
        f"differs from {clash} only by case or Unicode normalization (one file on macOS and "
        "Windows): rename one of them"
    )


def _left_out_text(source: Source) -> str:
    return ", ".join(f"{name} ({count})" for name, count in sorted(source.left_out.items()))
