"""Entity detection: what a workspace file is, from its path and its bytes.

Python files are read through their syntax tree, never through substring checks: a text search for
``@workflow`` both misses real workflows (``@bifrost.workflow(...)``, ``@wf`` after
``from bifrost import workflow as wf``) and finds fake ones (a decorator of the same name imported
from elsewhere, or the word in a string). The tree is built once per file and only the module's own
statements are visited, so the cost stays that of one ``ast.parse``.

Everything returned is plain data (strings, numbers, lists, dicts) so it can be stored as JSON in
the ``workflows`` table as it is.
"""

from __future__ import annotations

import ast
import codecs
import hashlib
import importlib.util
import math
import mimetypes
import posixpath
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bifrost import names
from bifrost.errors import InvalidInput

__all__ = [
    "DATA_EXTENSIONS",
    "Classification",
    "UndecodableSource",
    "WorkflowDef",
    "classify",
    "content_type",
    "git_blob_sha",
    "is_binary",
]

DATA_EXTENSIONS = frozenset({".json", ".yaml", ".yml", ".toml", ".csv", ".tsv", ".xml", ".ini"})
"""Extensions (compared case-insensitively) of structured text files, shown as "data"."""

_JSON_ENTITIES = ((".form.json", "form"), (".app.json", "app"), (".agent.json", "agent"))

# Names of the SDK decorators, and the entity kind each one makes.
_DECORATORS = {"workflow": "workflow", "data_provider": "data_provider"}


class UndecodableSource(InvalidInput, ValueError):
    """A ``.py`` file whose bytes are not Python source text; the message says how to fix it."""


@dataclass
class WorkflowDef:
    """One module-level function decorated with ``workflow`` or ``data_provider``.

    ``parameters`` is a list of JSON-compatible dicts with the keys ``name``, ``kind`` (the
    :class:`inspect.Parameter` kind in snake case), ``annotation`` (source text or None),
    ``has_default`` and ``default`` (the literal value when it is one JSON can hold, else the
    default's source text). ``options`` holds the decorator's literal keyword arguments.
    """

    function_name: str
    kind: str
    is_async: bool
    parameters: list[dict[str, Any]] = field(default_factory=list)
    description: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    returns: str | None = None  # the return annotation's source text


@dataclass
class Classification:
    """The entity type of a file, its workflows, and the syntax error that hid them if any.

    A file with a syntax error is a "module" with no workflows: the caller keeps the workflow rows
    it already had, because a typo being fixed should not deactivate a workflow.
    """

    entity_type: str
    workflows: list[WorkflowDef] = field(default_factory=list)
    syntax_error: str | None = None
    imports: list[str] = field(default_factory=list)  # modules a .py file imports, sorted


def classify(path: str, content: bytes) -> Classification:
    """Classify the workspace file at ``path`` (already validated) holding ``content``.

    Raises :class:`UndecodableSource` for a ``.py`` file that is not text in its declared encoding
    (UTF-8 unless a coding comment says otherwise): storing it would break every import of it.
    """
    name = posixpath.basename(path)
    if path.endswith(".py"):
        return _classify_python(path, content)
    if path == names.REQUIREMENTS_PATH:
        return Classification("requirements")
    for suffix, entity_type in _JSON_ENTITIES:
        if name.endswith(suffix):
            return Classification(entity_type)
    if is_binary(content):
        return Classification("binary")
    if posixpath.splitext(name)[1].lower() in DATA_EXTENSIONS:
        return Classification("data")
    return Classification("text")


def is_binary(content: bytes) -> bool:
    """True if ``content`` is not UTF-8 text (or holds NUL bytes, which no text file has)."""
    if b"\0" in content:
        return True
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def git_blob_sha(content: bytes) -> str:
    """The git object id of ``content`` as a blob, as GitHub reports it in trees."""
    digest = hashlib.sha1(b"blob %d\0" % len(content), usedforsecurity=False)
    digest.update(content)
    return digest.hexdigest()


# MIME types that Python's built-in table lacks or that we want spelled one way on every machine.
_MIME_OVERRIDES = {
    ".py": "text/x-python",
    ".pyi": "text/x-python",
    ".md": "text/markdown",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".ini": "text/plain",
    ".cfg": "text/plain",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
}
_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "compress": "application/x-compress",
    "br": "application/x-brotli",
}


@cache
def _mime_table() -> mimetypes.MimeTypes:
    # A fresh MimeTypes holds only Python's built-in table, not the host's /etc/mime.types, so
    # the same file gets the same type on every API machine.
    return mimetypes.MimeTypes()


def content_type(path: str, content: bytes) -> str:
    """The MIME type to serve the file with: by extension, else by whether the bytes are text."""
    extension = posixpath.splitext(posixpath.basename(path))[1]
    lowered = extension.lower()
    if lowered in _MIME_OVERRIDES:
        return _MIME_OVERRIDES[lowered]
    table = _mime_table()
    encoding = table.encodings_map.get(extension) or table.encodings_map.get(lowered)
    if encoding in _COMPRESSED:
        return _COMPRESSED[encoding]
    for strict in (True, False):
        guessed = table.types_map[strict].get(extension) or table.types_map[strict].get(lowered)
        if guessed:
            return guessed
    return "application/octet-stream" if is_binary(content) else "text/plain"


# --- Python files ---------------------------------------------------------------------------


def _decode(path: str, content: bytes) -> str:
    """Decode like the import system does (BOM, coding cookie, universal newlines)."""
    try:
        return importlib.util.decode_source(content)
    except UnicodeDecodeError as exc:
        raise _undecodable_bytes(path, content, exc) from exc
    except (SyntaxError, LookupError, ValueError) as exc:
        # tokenize.detect_encoding reports a non-UTF-8 byte in the first two lines, and unknown or
        # contradictory coding cookies, as SyntaxError. Point at the byte when that is the cause.
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as bad_byte:
            if not _declares_encoding(content):
                raise _undecodable_bytes(path, content, bad_byte) from exc
        detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        if content.startswith(codecs.BOM_UTF8) and _declares_encoding(content):
            detail = "it starts with a UTF-8 byte order mark but declares another encoding"
        raise UndecodableSource(
            f"{path!r} cannot be decoded: {detail}. Fix or remove its coding comment and save "
            "it as UTF-8"
        ) from exc


def _declares_encoding(content: bytes) -> bool:
    """True if one of the first two lines is a PEP 263 coding comment."""
    lines = content.removeprefix(codecs.BOM_UTF8).splitlines()[:2]
    return any(_CODING_COOKIE.match(line.decode("latin-1")) for line in lines)


_CODING_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def _undecodable_bytes(path: str, content: bytes, exc: UnicodeDecodeError) -> UndecodableSource:
    line = content.count(b"\n", 0, exc.start) + 1
    byte = content[exc.start : exc.start + 1].hex()
    return UndecodableSource(
        f"{path!r} is not valid {exc.encoding} text: byte 0x{byte} on line {line} cannot be "
        "decoded. Save the file as UTF-8, or declare its real encoding in a comment on its "
        "first or second line, such as '# -*- coding: latin-1 -*-'"
    )


def _classify_python(path: str, content: bytes) -> Classification:
    source = _decode(path, content)
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return Classification("module", syntax_error=f"SyntaxError: {exc.msg}{where}")
    except ValueError as exc:  # Null bytes, on the Python versions that do not say SyntaxError.
        return Classification("module", syntax_error=f"SyntaxError: {exc}")
    except (MemoryError, RecursionError):
        # CPython's parser reports pathological nesting this way instead of as a SyntaxError.
        return Classification(
            "module", syntax_error="SyntaxError: the code is nested too deeply to be parsed"
        )
    workflows = _ModuleScan().scan(tree)
    if any(w.kind == "workflow" for w in workflows):
        entity_type = "workflow"
    elif workflows:
        entity_type = "data_provider"
    else:
        entity_type = "module"
    return Classification(entity_type, workflows, imports=static_imports(path, tree))


def static_imports(path: str, tree: ast.Module) -> list[str]:
    """Every module the file's ``import`` statements name, anywhere in it, relative ones made
    absolute. ``from a import b`` counts ``a`` and ``a.b`` (``b`` may be a module); ``import
    a.b`` counts ``a`` and ``a.b``: what a workflow's module could be for the importer."""
    package = path.removesuffix(".py").split("/")[:-1]  # the package it is in (or is)
    found: set[str] = set()

    def add(dotted: str) -> None:
        parts = dotted.split(".")
        found.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level > len(package):
                    continue  # beyond the top: the import fails at run time
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if not module:
                continue
            add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names if alias.name != "*")
    return sorted(found)


def _is_bifrost_module(module: str) -> bool:
    return module == "bifrost" or module.startswith("bifrost.")


def _target_names(target: ast.expr) -> list[str]:
    """Names bound by an assignment target (``a``, ``a, *b``, ``[a, (b, c)]``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in _target_names(element)]
    return []  # Attributes and subscripts bind no module-level name.


class _ModuleScan:
    """Walk a module's own statements in order, tracking which names refer to the Bifrost SDK.

    Python applies decorators when the ``def`` runs, so a decorator is resolved with the imports
    and assignments that came before it. ``bindings`` maps a name to the dotted Bifrost object it
    refers to (``wf`` -> ``bifrost.workflow``, ``bf`` -> ``bifrost``); any other binding of a name
    removes it. Statements inside ``if``/``try``/``for``/``with`` blocks are followed too (a name
    counts as Bifrost's if some branch makes it so), but only functions that are direct children
    of the module become workflows. Function and class bodies are never entered.
    """

    def __init__(self) -> None:
        self.bindings: dict[str, str] = {}
        self.found: dict[str, WorkflowDef] = {}

    def scan(self, tree: ast.Module) -> list[WorkflowDef]:
        self._block(tree.body, top=True)
        return list(self.found.values())

    def _block(self, body: list[ast.stmt], *, top: bool = False) -> None:
        for statement in body:
            self._statement(statement, top)

    def _branches(self, *bodies: list[ast.stmt]) -> None:
        """Run alternative blocks from the same state and keep every Bifrost binding any made."""
        start = dict(self.bindings)
        merged: dict[str, str] = {}
        for body in bodies:
            self.bindings = dict(start)
            self._block(body)
            for name, target in self.bindings.items():
                merged.setdefault(name, target)
        self.bindings = merged

    def _unbind(self, names: list[str], top: bool) -> None:
        for name in names:
            self.bindings.pop(name, None)
            if top:
                self.found.pop(name, None)  # A later rebinding replaces the workflow at run time.

    def _statement(self, node: ast.stmt, top: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    if _is_bifrost_module(alias.name):
                        self.bindings[alias.asname] = alias.name
                    else:
                        self._unbind([alias.asname], top)
                else:
                    root = alias.name.split(".", 1)[0]
                    if root == "bifrost":
                        self.bindings[root] = root
                    else:
                        self._unbind([root], top)
        elif isinstance(node, ast.ImportFrom):
            from_bifrost = node.level == 0 and _is_bifrost_module(node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    if from_bifrost:
                        for name in _DECORATORS:
                            self.bindings[name] = f"{node.module}.{name}"
                    continue
                bound = alias.asname or alias.name
                if from_bifrost:
                    self.bindings[bound] = f"{node.module}.{alias.name}"
                else:
                    self._unbind([bound], top)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            definition = self._workflow(node) if top else None
            self._unbind([node.name], top)
            if definition:
                self.found[node.name] = definition
        elif isinstance(node, ast.ClassDef):
            self._unbind([node.name], top)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is None:
                return  # A bare annotation binds nothing.
            alias_of = self._resolve(node.value)
            for target in targets:
                names = _target_names(target)
                self._unbind(names, top)
                if alias_of and isinstance(target, ast.Name):
                    self.bindings[target.id] = alias_of  # wf = bifrost.workflow
        elif isinstance(node, ast.AugAssign):
            self._unbind(_target_names(node.target), top)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self._unbind(_target_names(target), top)
        elif isinstance(node, ast.If):
            self._branches(node.body, node.orelse)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self._unbind(_target_names(node.target), False)
            self._branches([], node.body + node.orelse)
        elif isinstance(node, ast.While):
            self._branches([], node.body + node.orelse)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if item.optional_vars is not None:
                    self._unbind(_target_names(item.optional_vars), False)
            self._block(node.body)
        elif isinstance(node, ast.Try | ast.TryStar):
            self._block(node.body)
            self._block(node.orelse)
            handlers = []
            for handler in node.handlers:
                if handler.name:
                    # Binds the exception, then deletes it at the end of the handler.
                    self.bindings.pop(handler.name, None)
                handlers.append(handler.body)
            self._branches([], *handlers)
            self._block(node.finalbody)
        elif isinstance(node, ast.Match):
            self._branches([], *(case.body for case in node.cases))

    def _resolve(self, expr: ast.expr) -> str | None:
        """The dotted Bifrost name ``expr`` refers to (``bf.workflow`` -> ``bifrost.workflow``)."""
        attributes: list[str] = []
        while isinstance(expr, ast.Attribute):
            attributes.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name) or expr.id not in self.bindings:
            return None
        return ".".join([self.bindings[expr.id], *reversed(attributes)])

    def _decorator_kind(self, decorator: ast.expr) -> str | None:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        resolved = self._resolve(target)
        if resolved is None:
            return None
        return _DECORATORS.get(resolved.rsplit(".", 1)[-1])

    def _workflow(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> WorkflowDef | None:
        chosen: tuple[str, ast.expr] | None = None
        for decorator in node.decorator_list:
            kind = self._decorator_kind(decorator)
            if kind and (chosen is None or (kind == "workflow" and chosen[0] != "workflow")):
                chosen = (kind, decorator)
        if chosen is None:
            return None
        kind, decorator = chosen
        options = _literal_keywords(decorator) if isinstance(decorator, ast.Call) else {}
        description = options.get("description")
        if not isinstance(description, str) or not description.strip():
            description = _first_docstring_line(node)
        return WorkflowDef(
            function_name=node.name,
            kind=kind,
            is_async=isinstance(node, ast.AsyncFunctionDef),
            parameters=_parameters(node.args),
            description=description,
            options=options,
            returns=_annotation(node.returns),
        )


class _NotJSON(Exception):
    pass


def _as_json(value: Any) -> Any:
    """``value`` as JSON data (tuples become lists), or raise _NotJSON."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise _NotJSON
    if isinstance(value, list | tuple):
        return [_as_json(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _as_json(item) for key, item in value.items()}
    raise _NotJSON  # bytes, sets, complex numbers, dicts with non-string keys


def _literal(node: ast.expr) -> tuple[bool, Any]:
    """``(True, value)`` if ``node`` is a JSON-compatible literal, else ``(False, None)``."""
    try:
        return True, _as_json(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, _NotJSON):
        return False, None


def _literal_keywords(call: ast.Call) -> dict[str, Any]:
    """The decorator's keyword arguments whose values are literals; computed ones are skipped."""
    options: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            continue  # **kwargs
        ok, value = _literal(keyword.value)
        if ok:
            options[keyword.arg] = value
    return options


def _first_docstring_line(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    docstring = ast.get_docstring(node)
    if not docstring:
        return None
    for line in docstring.splitlines():
        if line.strip():
            return line.strip()
    return None


def _annotation(node: ast.expr | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value  # A quoted forward reference: "int" rather than "'int'".
    return ast.unparse(node)


def _parameter(arg: ast.arg, kind: str, default: ast.expr | None) -> dict[str, Any]:
    value: Any = None
    if default is not None:
        ok, value = _literal(default)
        if not ok:
            value = ast.unparse(default)
    return {
        "name": arg.arg,
        "kind": kind,
        "annotation": _annotation(arg.annotation),
        "has_default": default is not None,
        "default": value,
    }


def _parameters(args: ast.arguments) -> list[dict[str, Any]]:
    """Describe a signature in definition order, matching :mod:`inspect` kinds."""
    positional = [*args.posonlyargs, *args.args]
    # Defaults belong to the last positional parameters.
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    result = []
    for index, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = "positional_only" if index < len(args.posonlyargs) else "positional_or_keyword"
        result.append(_parameter(arg, kind, default))
    if args.vararg:
        result.append(_parameter(args.vararg, "var_positional", None))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        result.append(_parameter(arg, "keyword_only", default))
    if args.kwarg:
        result.append(_parameter(args.kwarg, "var_keyword", None))
    return result
