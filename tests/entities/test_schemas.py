"""The pure parts: entity files read whatever they hold, canonical bytes, submissions checked,
static imports found (no database)."""

from __future__ import annotations

import ast
import json

import pytest

from bifrost.errors import InvalidInput
from bifrost.workspace.entities import classify, static_imports
from bifrost.workspace.entity_schemas import (
    FormDefinition,
    Ref,
    canonical,
    check_submission,
    parse_entity,
)

FORM = {
    "name": "f",
    "title": "F",
    "workflow": "a/b.py::run",
    "fields": [
        {"name": "n", "type": "integer", "required": True},
        {"name": "when", "type": "date"},
        {"name": "ok", "type": "boolean", "default": False},
        {"name": "mail", "type": "email"},
        {"name": "src", "type": "select", "options": {"data_provider": "a/p.py::choices"}},
    ],
}


def test_parse_never_raises_and_says_why() -> None:
    good = parse_entity("form", "x/f.form.json", json.dumps(FORM).encode())
    assert good.invalid is None and good.name == "f"
    assert good.refs == (Ref("workflow", "a/b.py::run"), Ref("data_provider", "a/p.py::choices"))
    assert parse_entity("form", "x/f.form.json", b"\xff").invalid == "the file is not UTF-8 text"
    assert parse_entity("form", "x/f.form.json", b"[]").name == "f"  # from the file name
    loose = parse_entity("form", "g.form.json", json.dumps({**FORM, "title": 3}).encode())
    assert loose.invalid == "title: Input should be a valid string" and loose.definition is None
    assert loose.refs == (Ref("workflow", "a/b.py::run"),)  # still known as a user of it


def test_canonical_bytes_do_not_depend_on_key_order() -> None:
    shuffled = {key: FORM[key] for key in reversed(list(FORM))}
    one = canonical(FormDefinition.model_validate(FORM))
    assert one == canonical(FormDefinition.model_validate(shuffled))
    assert one.endswith(b"\n") and not one.endswith(b"\n\n") and b"null" not in one


def test_submission_checks() -> None:
    assert check_submission(FORM, {"n": 3}) == {"n": 3, "ok": False}
    assert check_submission(FORM, {"n": 1, "src": "anything", "when": "2026-12-03"})["src"]
    for fields, where in [
        ({}, "fields.n: this field is required"),
        ({"n": True}, "fields.n: must be an integer"),
        ({"n": 1, "when": "3 Dec"}, "fields.when"),
        ({"n": 1, "mail": "nobody"}, "fields.mail"),
        ({"n": 1, "ok": "yes"}, "fields.ok"),
    ]:
        with pytest.raises(InvalidInput, match=where):
            check_submission(FORM, fields)


def test_static_imports() -> None:
    source = (
        "import os.path\nfrom . import sibling\nfrom .. import up\nfrom .x import y\n"
        "def f():\n    from shared.tools import helper\n"
    )
    found = static_imports("pkg/sub/mod.py", ast.parse(source))
    assert found == sorted(
        {"os", "os.path", "pkg.sub", "pkg.sub.sibling", "pkg", "pkg.up", "pkg.sub.x"}
        | {"pkg.sub.x.y", "shared", "shared.tools", "shared.tools.helper"}
    )
    assert static_imports("top.py", ast.parse("from . import x\n")) == []  # beyond the top
    assert classify("a.py", b"import json\n").imports == ["json"]
    assert classify("a.py", b"import json\ndef (\n").imports == []  # a syntax error: none read
