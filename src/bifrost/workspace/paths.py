"""Validation of workspace paths.

Every file of a workspace is a database row keyed by its path, and the same path is later used as
a GitHub tree entry, as an import name on the workers and as a URL segment of the files API. A path
that any of those consumers would misread (``..``, backslashes, ``.git``, control characters, a
module name that Python cannot import or that would lose against the standard library) is refused
when it is written, with a message that says what to change: these messages go verbatim into 4xx
responses, so they talk to the user, not to the developer.

Nothing is repaired silently: a path that is stored differently from how it was sent would make the
next sync or import look for a file that does not exist.
"""

from __future__ import annotations

import functools
import importlib.metadata
import keyword
import os
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping

from bifrost.errors import InvalidInput

__all__ = [
    "MAX_PATH_LENGTH",
    "MAX_SEGMENT_BYTES",
    "RESERVED_SEGMENTS",
    "InvalidPath",
    "Spellings",
    "check_python_path",
    "lookalike",
    "module_name",
    "normalize_path",
    "reserved_top_level_names",
]

MAX_PATH_LENGTH = 1000
"""Longest path, in characters. Generous for real projects, small enough for indexes and URLs."""

MAX_SEGMENT_BYTES = 255
"""Longest folder or file name, in UTF-8 bytes: the NAME_MAX of common file systems, so that a
clone of the synced repository can always be checked out."""

RESERVED_SEGMENTS = frozenset({".git"})
"""Names (compared case-insensitively) that no folder or file may have: a ``.git`` entry cannot be
pushed to GitHub and would corrupt a checkout on case-insensitive file systems as well."""

# Reasons used as values of reserved_top_level_names(); check_python_path turns them into prose.
STDLIB = "standard library"
BUILTIN = "built-in module"
PLATFORM = "the platform's own package"
INSTALLED_PREFIX = "installed package "

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
# Invisible characters: formatting (Cf: zero-width spaces, the BOM, bidirectional controls that
# make a path read differently from what it is) and line or paragraph separators.
_INVISIBLE = frozenset({"Cf", "Zl", "Zp"})
_REPLACEMENT = "\ufffd"
# Names Windows gives to devices, with or without an extension: a checkout cannot create them.
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]}
)


class InvalidPath(InvalidInput, ValueError):
    """A workspace path that cannot be stored; ``str(exc)`` tells the user what to fix."""


def _show(text: str, limit: int = 80) -> str:
    """Quote user input for an error message: as typed when printable, else escaped; and short
    even if the input is huge."""
    shown = text[:limit]
    quoted = f"'{shown}'" if shown.isprintable() else repr(shown)
    return quoted + ("…" if len(text) > limit else "")


def _char_name(char: str) -> str:
    name = unicodedata.name(char, "")
    if char == "\0":
        name = "NUL"
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def normalize_path(raw: str) -> str:
    """Return ``raw`` as a workspace path, or raise :class:`InvalidPath` explaining the problem.

    A workspace path is relative to the workspace root, uses ``/`` between segments, and has no
    empty, ``.`` or ``..`` segments. The path is returned unchanged: normalising means checking
    here, because fixing a path silently would store a file under a name the user never sent.
    """
    if not isinstance(raw, str):
        raise InvalidPath(f"the path must be a string, not {type(raw).__name__}")
    if raw == "":
        raise InvalidPath("the path is empty; give the file's path relative to the workspace root")
    if len(raw) > MAX_PATH_LENGTH:
        raise InvalidPath(
            f"the path {_show(raw)} is {len(raw)} characters long; "
            f"the limit is {MAX_PATH_LENGTH}, so shorten its folder or file names"
        )
    # Printable ASCII (nearly every path) holds none of the characters looked for below.
    for position, char in enumerate("" if raw.isascii() and raw.isprintable() else raw):
        category = unicodedata.category(char)
        if category == "Cc" or category in _INVISIBLE or char == _REPLACEMENT:
            if char == "\0":
                what = "a NUL byte"
            elif category == "Cc":
                what = f"the control character {_char_name(char)}"
            elif char == _REPLACEMENT:
                what = f"{_char_name(char)} (the mark of text that was decoded wrongly)"
            else:
                what = f"the invisible character {_char_name(char)}"
            raise InvalidPath(
                f"the path {_show(raw)} contains {what} at position {position}; "
                "remove it (paths may only contain printable characters)"
            )
        if category == "Cs":
            raise InvalidPath(
                f"the path {_show(raw)} is not valid Unicode (a lone surrogate at position "
                f"{position}); send the path encoded as UTF-8"
            )
    if "\\" in raw:
        suggestion = raw.replace("\\", "/")
        raise InvalidPath(
            f"the path {_show(raw)} contains a backslash; separate folders with '/' "
            f"(for example {_show(suggestion)})"
        )
    if raw.startswith("/"):
        raise InvalidPath(
            f"the path {_show(raw)} is absolute; give it relative to the workspace root, "
            f"without the leading '/' (for example {_show(raw.lstrip('/') or 'main.py')})"
        )
    if _WINDOWS_DRIVE.match(raw):
        raise InvalidPath(
            f"the path {_show(raw)} starts with a drive letter; give it relative to the workspace "
            "root, such as 'shared/utils.py'"
        )
    if raw.endswith("/"):
        raise InvalidPath(
            f"the path {_show(raw)} ends with '/'; a file path must end with the file's name "
            "(folders exist only through the files in them)"
        )
    for segment in raw.split("/"):
        _check_segment(raw, segment)
    return raw


def _check_segment(path: str, segment: str) -> None:
    if segment == "":
        raise InvalidPath(
            f"the path {_show(path)} contains an empty folder name ('//'); "
            f"use a single '/' (for example {_show(re.sub('/+', '/', path))})"
        )
    if segment == "..":
        raise InvalidPath(
            f"the path {_show(path)} contains '..', which is not allowed; write the file's "
            "full path from the workspace root instead (paths cannot climb out of it)"
        )
    if segment == ".":
        raise InvalidPath(
            f"the path {_show(path)} contains a '.' segment; remove it "
            "(write 'a/b.py', not 'a/./b.py')"
        )
    if segment.casefold() in RESERVED_SEGMENTS:
        raise InvalidPath(
            f"the path {_show(path)} uses the name {_show(segment)}, which is reserved for git; "
            "files inside '.git' cannot be stored in a workspace, so rename or skip it",
        )
    if segment != segment.strip():
        raise InvalidPath(
            f"the name {_show(segment)} in {_show(path)} starts or ends with white space; "
            f"remove it (for example {_show(segment.strip() or '_')})"
        )
    if segment.endswith("."):
        raise InvalidPath(
            f"the name {_show(segment)} in {_show(path)} ends with '.'; Windows drops it, so "
            f"it would become {_show(segment.rstrip('.') or '_')}: remove the dot"
        )
    if ":" in segment:
        raise InvalidPath(
            f"the name {_show(segment)} in {_show(path)} contains ':', which Windows and macOS "
            "read as a drive, a data stream or a folder separator; use '-' or '_' instead"
        )
    device = segment.split(".", 1)[0].rstrip(" ").upper()
    if device in _WINDOWS_DEVICES:
        raise InvalidPath(
            f"the name {_show(segment)} in {_show(path)} is the Windows device name {device}, "
            f"which no checkout on Windows can create; rename it (for example to "
            f"{_show(segment[: len(device)] + '_' + segment[len(device) :])})"
        )
    size = len(segment.encode("utf-8"))
    if size > MAX_SEGMENT_BYTES:
        raise InvalidPath(
            f"the name {_show(segment, 40)} in the path is {size} bytes long (UTF-8); "
            f"the limit is {MAX_SEGMENT_BYTES} bytes per folder or file name, so shorten it"
        )


def _fold(text: str) -> str:
    """What case-insensitive, normalizing file systems (macOS, Windows) see of a name."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


class Spellings:
    """The live paths' folders and names by what case-insensitive, normalizing file systems see
    of them, kept up to date as paths come and go, so a unit of thousands of new files checks
    each one without rereading the others."""

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self._seen: dict[str, Counter[str]] = {}
        for path in paths:
            self.add(path)

    def add(self, path: str) -> None:
        for prefix in _prefixes(path):
            self._seen.setdefault(_fold(prefix), Counter())[prefix] += 1

    def remove(self, path: str) -> None:
        for prefix in _prefixes(path):
            seen = self._seen[_fold(prefix)]
            seen[prefix] -= 1
            if seen[prefix] <= 0:
                del seen[prefix]

    def clash(self, path: str) -> str | None:
        """The folder or file that ``path`` would collide with on macOS or Windows while being
        spelled differently, or None."""
        for prefix in _prefixes(path):
            seen = self._seen.get(_fold(prefix))
            if seen and prefix not in seen:
                return min(seen)
        return None


def lookalike(path: str, existing: Iterable[str]) -> str | None:
    """The folder or file among ``existing`` paths that ``path`` would collide with on a
    case-insensitive or normalizing file system while being spelled differently, or None.

    ``Docs/x.md`` collides with the folder of ``docs/y.md``, ``café.txt`` in NFD with the same
    name in NFC: on macOS or Windows both would land in one place, so a checkout or a later sync
    would lose one of them."""
    return Spellings(existing).clash(path)


def _prefixes(path: str) -> list[str]:
    """``a/b/c.py`` -> ``a``, ``a/b``, ``a/b/c.py``: its folders, then itself."""
    parts = path.split("/")
    return ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]


def module_name(path: str) -> str | None:
    """Return the dotted import name of a ``.py`` path, or None for any other file.

    ``shared/greeting.py`` is ``shared.greeting`` and ``pkg/__init__.py`` is ``pkg``. The root
    ``__init__.py`` has no import name (the workspace root is not a package) and gives None. The
    name is computed, not validated: see :func:`check_python_path` for that.
    """
    if not path.endswith(".py"):
        return None
    parts = path[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or None


def _identifier_problem(name: str) -> str | None:
    """Say why ``name`` cannot be an import name segment, or None if it can."""
    if not name.isidentifier():
        return "is not a valid Python name"
    if keyword.iskeyword(name):
        return "is a Python keyword"
    if unicodedata.normalize("NFKC", name) != name:
        # Python normalises identifiers in source to NFKC, so ``import ﬁle`` looks for "file".
        return "is not in Unicode NFKC form, so Python would import it under another name"
    return None


def _suggest_identifier(name: str) -> str:
    """A close, valid Python name: ``my-file`` -> ``my_file``, ``class`` -> ``class_``."""
    suggestion = re.sub(r"\W", "_", unicodedata.normalize("NFKC", name)) or "module"
    if suggestion[0].isdigit():
        suggestion = "_" + suggestion
    if keyword.iskeyword(suggestion):
        suggestion += "_"
    return suggestion if suggestion.isidentifier() else "module"


def _shadow_description(name: str, reason: str) -> str:
    if reason == STDLIB:
        return f"the standard-library module {name!r}"
    if reason == BUILTIN:
        return f"the built-in module {name!r}"
    if reason == PLATFORM:
        return f"the platform's own package {name!r}"
    if reason.startswith(INSTALLED_PREFIX):
        dist = reason[len(INSTALLED_PREFIX) :]
        if dist.lower().replace("-", "_") == name.lower():
            return f"the installed package {dist!r}"
        return f"the module {name!r} of the installed package {dist!r}"
    return f"the reserved module {name!r} ({reason})"


def check_python_path(path: str, reserved: Collection[str] | None = None) -> None:
    """Raise :class:`InvalidPath` unless the ``.py`` file at ``path`` can be imported as itself.

    Other files are only checked by :func:`normalize_path`. For a Python file every folder name
    and the file's stem must be Python names, and the top-level name (the first folder, or the stem
    of a file at the root) must not be in ``reserved``: workspace code is found after the standard
    library and site-packages, so such a module would silently never be imported. Pass the mapping
    from :func:`reserved_top_level_names` (the default) so the message says what would be shadowed.
    """
    normalize_path(path)
    if not path.endswith(".py"):
        return
    *folders, filename = path.split("/")
    stem = filename[: -len(".py")]
    for index, folder in enumerate(folders):
        problem = _identifier_problem(folder)
        if problem:
            fixed = "/".join([*folders[:index], _suggest_identifier(folder)])
            raise InvalidPath(
                f"the folder {folder!r} {problem}, so {path!r} cannot be imported; "
                f"rename the folder to {fixed!r}"
            )
    if stem == "__init__":
        if not folders:
            return  # Harmless: the root is not a package, so this file is just never imported.
    else:
        problem = _identifier_problem(stem)
        if problem:
            fixed = _suggest_identifier(stem) + ".py"
            raise InvalidPath(
                f"{stem!r} {problem}, so {filename!r} cannot be imported; "
                f"rename {filename!r} to {fixed!r}"
            )
    top = folders[0] if folders else stem
    if reserved is None:
        reserved = reserved_top_level_names()
    if top in reserved:
        reason = reserved[top] if isinstance(reserved, Mapping) else "reserved"
        what = f"the folder '{top}/'" if folders else repr(filename)
        raise InvalidPath(
            f"{what} would shadow {_shadow_description(top, reason)}; rename it "
            f"(for example to {(top + '_lib') + ('' if folders else '.py')!r})"
        )


def reserved_top_level_names(extra_dirs: Iterable[str] = ()) -> dict[str, str]:
    """Map every top-level module name a workspace file must not take to the reason why.

    The reasons are ``"standard library"``, ``"built-in module"``, ``"installed package <dist>"``
    (from the distributions on ``sys.path`` and in ``extra_dirs``, such as the workers' directory
    of user-installed packages) and ``"the platform's own package"`` for ``bifrost``. Distribution
    scans are cached per directory and refreshed when a directory's modification time changes,
    so a package installed at run time is picked up without a restart.
    """
    names: dict[str, str] = {}
    for directory in extra_dirs:
        for name, dist in _installed_names(_directory_key(directory)).items():
            names.setdefault(name, INSTALLED_PREFIX + dist)
    sys_path_key = tuple(_directory_key(entry) for entry in sys.path if entry)
    for name, dist in _sys_path_names(sys_path_key).items():
        names[name] = INSTALLED_PREFIX + dist
    names.update(dict.fromkeys(sys.stdlib_module_names, STDLIB))
    names.update(dict.fromkeys(sys.builtin_module_names, BUILTIN))
    names["bifrost"] = PLATFORM
    return names


def _directory_key(directory: str) -> tuple[str, int]:
    """A cache key that changes whenever an entry is added to or removed from ``directory``."""
    try:
        return directory, os.stat(directory).st_mtime_ns
    except OSError:
        return directory, -1


@functools.lru_cache(maxsize=8)
def _sys_path_names(key: tuple[tuple[str, int], ...]) -> dict[str, str]:
    """Top-level names of the distributions on ``sys.path`` (``key`` only invalidates the cache)."""
    return {
        name: sorted(dists)[0]
        for name, dists in importlib.metadata.packages_distributions().items()
        if dists and name.isidentifier()
    }


@functools.lru_cache(maxsize=32)
def _installed_names(key: tuple[str, int]) -> dict[str, str]:
    """Top-level module names of the distributions installed in one directory."""
    directory, mtime = key
    names: dict[str, str] = {}
    if mtime < 0:
        return names
    for dist in importlib.metadata.distributions(path=[directory]):
        dist_name = dist.metadata["Name"] or "unknown"
        for name in _distribution_top_levels(dist):
            names.setdefault(name, dist_name)
    return names


def _distribution_top_levels(dist: importlib.metadata.Distribution) -> set[str]:
    """Names a distribution puts at the top of the import system.

    ``top_level.txt`` when the installer wrote one, otherwise the names inferred from the files in
    its RECORD (packages, plain modules and extension modules), the same rule as
    :func:`importlib.metadata.packages_distributions`.
    """
    declared = dist.read_text("top_level.txt")
    if declared:
        return {line.strip() for line in declared.splitlines() if line.strip().isidentifier()}
    names: set[str] = set()
    for file in dist.files or ():
        parts = file.parts
        if not parts or parts[0] in ("..", "."):
            continue  # Scripts and data installed outside the directory.
        if len(parts) > 1:
            candidate = parts[0]
        elif parts[0].endswith((".py", ".so", ".pyd")):
            candidate = parts[0].split(".", 1)[0]
        else:
            continue
        if candidate.isidentifier() and candidate != "__pycache__":
            names.add(candidate)
    return names
