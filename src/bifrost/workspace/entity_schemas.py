"""The shapes of forms, agents and apps (``*.form.json``, ``*.agent.json``, ``*.app.json``), and
what their files say: name, definition, the workflows they refer to, or why they are invalid.

Pure (no I/O): the API validates a definition with these models before writing it (a 422 that
points at the field), and the store's unit of work reads every entity file with
:func:`parse_entity`, which never raises, so a bad file that arrives by a pull is stored and
flagged instead of blocking the sync. :func:`canonical` gives one definition one byte string
(sorted keys, two-space indent, a trailing newline), so saving the same definition twice changes
nothing and syncs nothing.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from bifrost.errors import InvalidInput

__all__ = [
    "KINDS",
    "SUFFIXES",
    "AgentDefinition",
    "AppDefinition",
    "FieldType",
    "FormDefinition",
    "ParsedEntity",
    "Ref",
    "canonical",
    "check_submission",
    "describe",
    "parse_entity",
    "parse_ref",
]

KINDS = ("form", "agent", "app")
SUFFIXES = {"form": ".form.json", "agent": ".agent.json", "app": ".app.json"}
FOLDERS = {"form": "forms", "agent": "agents", "app": "apps"}

REF_PATTERN = r"^[^:\s][^:]*\.py::[A-Za-z_][A-Za-z0-9_]*$"
WorkflowRef = Annotated[
    str,
    StringConstraints(pattern=REF_PATTERN, max_length=1255),
    Field(description='A workflow as "path/to/file.py::function_name"'),
]
Name = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100),
    Field(description="Letters, digits, '_', '-', '.'; it names the file (<name>.form.json)"),
]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class FieldType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    EMAIL = "email"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    SELECT = "select"
    MULTISELECT = "multiselect"
    DATE = "date"
    DATETIME = "datetime"


CHOICE_TYPES = (FieldType.SELECT, FieldType.MULTISELECT)


class Option(_Strict):
    label: str
    value: Scalar


class DataProvider(_Strict):
    data_provider: WorkflowRef


class FormField(_Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=255)]
    type: FieldType = FieldType.TEXT
    label: str | None = None
    description: str | None = None
    required: bool = False
    default: Any = None
    options: list[Scalar | Option] | DataProvider | None = Field(
        None, description="select/multiselect: a list, or {'data_provider': 'path::function'}"
    )

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if self.type in CHOICE_TYPES and self.options is None:
            raise ValueError(f"a {self.type.value} field needs options")
        if self.type not in CHOICE_TYPES and self.options is not None:
            raise ValueError(f"a {self.type.value} field takes no options (only select fields)")
        if self.default is not None:
            problem = _value_problem(self, self.default)
            if problem:
                raise ValueError(f"default: {problem}")
        return self


class FormDefinition(_Strict):
    name: Name
    title: str = Field(min_length=1, max_length=255)
    description: str | None = None
    workflow: WorkflowRef
    fields: list[FormField] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_fields(self) -> FormDefinition:
        seen: set[str] = set()
        for item in self.fields:
            if item.name in seen:
                raise ValueError(f"two fields are named {item.name!r}")
            seen.add(item.name)
        return self


class AgentDefinition(_Strict):
    name: Name
    description: str | None = None
    system_prompt: str
    model: str | None = Field(None, description="The model the agent asks, if not the default")
    tools: list[WorkflowRef] = Field(default_factory=list)


class Page(_Strict):
    title: str = Field(min_length=1, max_length=255)
    forms: list[str] = Field(
        default_factory=list, description="Paths of the forms shown (forms/x.form.json)"
    )
    workflows: list[WorkflowRef] = Field(default_factory=list)


class AppDefinition(_Strict):
    name: Name
    description: str | None = None
    pages: list[Page] = Field(default_factory=list)


MODELS: dict[str, type[BaseModel]] = {
    "form": FormDefinition,
    "agent": AgentDefinition,
    "app": AppDefinition,
}


@dataclass(frozen=True)
class Ref:
    """One workflow an entity names: ``role`` says where (``workflow``, ``data_provider``,
    ``tool``, ``page``), ``target`` is the ``path::function`` text as written."""

    role: str
    target: str

    @property
    def path(self) -> str:
        return parse_ref(self.target)[0]

    @property
    def function_name(self) -> str:
        return parse_ref(self.target)[1]


@dataclass(frozen=True)
class ParsedEntity:
    """What an entity file says: ``definition`` is the validated data (None if invalid, then
    ``invalid`` says why), ``refs`` the workflows it names, in file order, without repeats."""

    kind: str
    name: str
    definition: dict[str, Any] | None
    invalid: str | None
    refs: tuple[Ref, ...] = field(default_factory=tuple)


def parse_ref(target: str) -> tuple[str, str]:
    path, _, function = target.rpartition("::")
    return path, function


def describe(exc: ValidationError, prefix: str = "") -> str:
    """Pydantic's problems as one sentence, each with where it is (``fields.1.type``)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in (*([prefix] if prefix else []), *error["loc"]))
        parts.append(f"{where or 'definition'}: {error['msg']}")
    return "; ".join(parts)


def validate(kind: str, data: Any) -> BaseModel:
    """The model of ``data`` as a ``kind``; InvalidInput that names the bad field otherwise."""
    try:
        return MODELS[kind].model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"invalid {kind}: {describe(exc)}") from exc


def canonical(definition: BaseModel) -> bytes:
    """The file's bytes: sorted keys, no nulls, two-space indent, one trailing newline."""
    data = definition.model_dump(mode="json", exclude_none=True)
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def kind_of(path: str) -> str | None:
    name = posixpath.basename(path)
    for kind, suffix in SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return kind
    return None


def default_name(path: str) -> str:
    name = posixpath.basename(path)
    kind = kind_of(path)
    return name.removesuffix(SUFFIXES[kind]) if kind else name


def parse_entity(kind: str, path: str, content: bytes) -> ParsedEntity:
    """Read an entity file whatever it holds; never raises."""
    fallback = default_name(path)
    try:
        data = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        return ParsedEntity(kind, fallback, None, "the file is not UTF-8 text")
    except json.JSONDecodeError as exc:
        return ParsedEntity(
            kind, fallback, None, f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        )
    if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"]:
        fallback = data["name"][:255]
    try:
        model = MODELS[kind].model_validate(data)
    except ValidationError as exc:
        return ParsedEntity(kind, fallback, None, describe(exc), _loose_refs(data))
    definition = model.model_dump(mode="json", exclude_none=True)
    return ParsedEntity(kind, fallback, definition, None, refs_of(kind, definition))


def refs_of(kind: str, definition: dict[str, Any]) -> tuple[Ref, ...]:
    """The workflows a valid definition names."""
    found: list[Ref] = []
    if kind == "form":
        found.append(Ref("workflow", definition["workflow"]))
        for item in definition.get("fields", []):
            options = item.get("options")
            if isinstance(options, dict):
                found.append(Ref("data_provider", options["data_provider"]))
    elif kind == "agent":
        found += [Ref("tool", target) for target in definition.get("tools", [])]
    else:
        for page in definition.get("pages", []):
            found += [Ref("page", target) for target in page.get("workflows", [])]
    return tuple(dict.fromkeys(found))


_REF = re.compile(REF_PATTERN)


def _loose_refs(data: Any) -> tuple[Ref, ...]:
    """From an invalid file, the references still readable where they belong: an invalid form
    that names a workflow still uses it (its deletion is worth a warning)."""
    if not isinstance(data, dict):
        return ()
    found: list[Ref] = []
    workflow = data.get("workflow")
    if isinstance(workflow, str) and _REF.match(workflow):
        found.append(Ref("workflow", workflow))
    tools = data.get("tools")
    if isinstance(tools, list):
        found += [Ref("tool", t) for t in tools if isinstance(t, str) and _REF.match(t)]
    return tuple(dict.fromkeys(found))


# --- submissions ----------------------------------------------------------------------------


def _choices(spec: FormField) -> list[Scalar] | None:
    if not isinstance(spec.options, list):
        return None  # a data provider: its values are known only when it runs
    return [o.value if isinstance(o, Option) else o for o in spec.options]


def _one_value_problem(spec: FormField, value: Any) -> str | None:
    kind = spec.type
    if kind in (FieldType.TEXT, FieldType.TEXTAREA, FieldType.EMAIL):
        if not isinstance(value, str):
            return "must be a string"
        if kind is FieldType.EMAIL and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            return f"{value!r} is not an email address"
    elif kind is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
    elif kind is FieldType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
    elif kind is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            return "must be true or false"
    elif kind is FieldType.DATE:
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return "must be a date (YYYY-MM-DD)"
    elif kind is FieldType.DATETIME:
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return "must be a date and time (ISO 8601)"
    elif kind in CHOICE_TYPES:
        choices = _choices(spec)
        if choices is not None and value not in choices:
            return f"{value!r} is not one of the options {choices}"
    return None


def _value_problem(spec: FormField, value: Any) -> str | None:
    if spec.type is FieldType.MULTISELECT:
        if not isinstance(value, list):
            return "must be a list of options"
        for item in value:
            problem = _one_value_problem(spec, item)
            if problem:
                return problem
        return None
    return _one_value_problem(spec, value)


def check_submission(definition: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The workflow's parameters from a form's answers: every answer checked against its field
    (type, options), defaults filled in, required ones present. InvalidInput names the field."""
    form = FormDefinition.model_validate(definition)
    known = {spec.name: spec for spec in form.fields}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise InvalidInput(
            f"fields.{unknown[0]}: the form {form.name} has no such field "
            f"(its fields: {', '.join(known) or 'none'})"
        )
    parameters: dict[str, Any] = {}
    for name, spec in known.items():
        value = fields.get(name)
        if value is None:
            if spec.default is not None:
                parameters[name] = spec.default
            elif spec.required:
                raise InvalidInput(f"fields.{name}: this field is required")
            continue
        problem = _value_problem(spec, value)
        if problem:
            raise InvalidInput(f"fields.{name}: {problem}")
        parameters[name] = value
    return parameters


Kind = Literal["form", "agent", "app"]
