"""requirements.txt as data: parse and validate with ``packaging``, edit it line by line.

The file is a workspace file that people edit by hand and that GitHub pulls rewrite, so edits made
by the platform change only the lines of the package concerned and keep every comment, blank line
and unrelated line exactly as written. Upstream split names on a few operators (no extras, markers,
``!=``, ``<`` or ``>``, no name normalisation); here every requirement goes through ``packaging``
and names are compared in their canonical form (``Foo_Bar`` and ``foo-bar`` are one package).

Lines that are not plain requirements (pip options such as ``-r`` or ``--index-url``, bare URLs,
file paths, ``--hash`` pins, direct references ``name @ URL``) are never passed to an installer:
they are kept in the file and reported as ignored, so a hand-written line cannot smuggle installer
options in or fetch code from somewhere the administrator did not choose. The API refuses the same
things with a 422. Packages come only from the administrator's index options
(``BIFROST_PACKAGE_INDEX_ARGS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidName, canonicalize_name

from bifrost.errors import InvalidInput

_COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's rule: '#' at the start or after whitespace
MAX_REQUIREMENT_CHARS = 1000
# ./x, /x, ~/x, C:\x, https:, git+ssh:, a/b: where pip or uv would fetch or build, not resolve
_LOCATION = re.compile(r"^(\.|/|~|[A-Za-z]:[\\/]|[A-Za-z][\w+.-]*:)|[/\\]")
_ARCHIVE = re.compile(r"\.(whl|zip|tar|tgz|tar\.(gz|bz2|xz)|egg)$", re.IGNORECASE)
INDEX_ONLY = "packages come only from the administrator's index (BIFROST_PACKAGE_INDEX_ARGS)"
OPTIONS = "pip options are not used; the administrator sets BIFROST_PACKAGE_INDEX_ARGS"
DIRECT_REFERENCE = f"direct references (name @ URL) are never installed: {INDEX_ONLY}"
LOCATION = f"URLs and paths are never installed: {INDEX_ONLY}"


@dataclass(frozen=True)
class Entry:
    """One logical line (continuations joined): its physical line span and what it means."""

    start: int  # first physical line index
    end: int  # one past the last physical line index
    text: str  # without comment and continuation backslashes
    comment: str  # the trailing comment of the last physical line, with its leading spaces
    requirement: Requirement | None  # None when the line is ignored
    error: str | None  # why the line is ignored; None for a usable requirement
    name: str | None  # canonical project name, also of an ignored direct reference


def _refusal(requirement: Requirement) -> str | None:
    """Why a parsed requirement must not reach an installer, or None if it may."""
    if requirement.url is not None:
        return DIRECT_REFERENCE
    if _ARCHIVE.search(requirement.name):  # uv and pip read "x-1.0-py3-none-any.whl" as a file
        return f"{requirement.name!r} is a file name, not a package name: {INDEX_ONLY}"
    return None


def _unparsable(text: str, exc: InvalidRequirement) -> str:
    """Why a line is not a requirement: a location gets the policy, anything else the parser's
    own message."""
    if _LOCATION.search(text.split(";", 1)[0].split("[", 1)[0]):
        return LOCATION
    return str(exc)


def parse_requirement(text: str) -> Requirement:
    """Validate one requirement typed by a user (``name[extra]>=1.2; marker``)."""
    text = text.strip()
    if not text:
        raise InvalidInput("the requirement is empty; write it like 'requests>=2.31'")
    if len(text) > MAX_REQUIREMENT_CHARS or "\n" in text or "\r" in text:
        raise InvalidInput("a requirement is one line of at most 1000 characters")
    if text.startswith(("-", "#")):
        raise InvalidInput(
            f"{text!r} is a pip option or comment, not a requirement; index options are set by "
            "the administrator (BIFROST_PACKAGE_INDEX_ARGS)"
        )
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise InvalidInput(
            f"{text!r} is not a valid requirement: {_unparsable(text, exc)}"
        ) from exc
    refusal = _refusal(requirement)
    if refusal is not None:
        raise InvalidInput(f"{text!r} is refused: {refusal}")
    return requirement


def canonical_name(name: str) -> str:
    """The canonical project name, or a 422 telling the user the name is not a valid one."""
    try:
        return canonicalize_name(name.strip(), validate=True)
    except InvalidName as exc:
        raise InvalidInput(f"{name!r} is not a valid package name") from exc


def _split_comment(line: str) -> tuple[str, str]:
    match = _COMMENT.search(line)
    if match is None:
        return line, ""
    return line[: match.start()], line[match.start() :]


def parse(content: str) -> list[Entry]:
    """Every non-blank, non-comment logical line, usable or not, in file order."""
    lines = content.splitlines()
    entries: list[Entry] = []
    index = 0
    while index < len(lines):
        start, parts, comment = index, [], ""
        while True:
            body, comment = _split_comment(lines[index])
            index += 1
            if body.endswith("\\") and not comment and index < len(lines):
                parts.append(body[:-1])
                continue
            parts.append(body)
            break
        text = " ".join(part.strip() for part in parts).strip()
        if not text:
            continue
        entries.append(_entry(start, index, text, comment))
    return entries


def _entry(start: int, end: int, text: str, comment: str) -> Entry:
    if text.startswith("-"):
        return Entry(start, end, text, comment, None, OPTIONS, None)
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        error = f"not a valid requirement: {_unparsable(text, exc)}"
        return Entry(start, end, text, comment, None, error, None)
    name = canonicalize_name(requirement.name)
    refusal = _refusal(requirement)
    if refusal is not None:
        return Entry(start, end, text, comment, None, refusal, name)
    return Entry(start, end, text, comment, requirement, None, name)


def requirements(content: str) -> list[Requirement]:
    """The usable requirements, in file order (duplicates are kept: the installer merges them)."""
    return [e.requirement for e in parse(content) if e.requirement is not None]


def _join(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def add(content: str, requirement: Requirement) -> str:
    """Put ``requirement`` in the file: it replaces the lines of the same package (keeping the
    first one's trailing comment) or is appended at the end."""
    name = canonicalize_name(requirement.name)
    lines = content.splitlines()
    same = [e for e in parse(content) if e.name == name]
    if not same:
        return _join([*lines, str(requirement)])
    first = same[0]
    for entry in reversed(same[1:]):
        del lines[entry.start : entry.end]
    lines[first.start : first.end] = [str(requirement) + first.comment]
    return _join(lines)


def remove(content: str, name: str) -> tuple[str, list[str]]:
    """Drop every line of package ``name``; returns the new content and the lines removed."""
    wanted = canonicalize_name(name)
    lines = content.splitlines()
    same = [e for e in parse(content) if e.name == wanted]
    for entry in reversed(same):
        del lines[entry.start : entry.end]
    return (_join(lines) if same else content), [e.text for e in same]
