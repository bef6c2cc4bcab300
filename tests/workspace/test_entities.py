"""Entity detection: decorator resolution through imports, signatures, and non-Python files."""

from __future__ import annotations

import hashlib
import json
import subprocess
from textwrap import dedent

import pytest

from bifrost.workspace.entities import (
    Classification,
    UndecodableSource,
    WorkflowDef,
    classify,
    content_type,
    git_blob_sha,
)


def py(source: str) -> Classification:
    return classify("mod.py", dedent(source).encode())


def names(result: Classification) -> list[tuple[str, str]]:
    return [(w.function_name, w.kind) for w in result.workflows]


# (source, expected entity type, expected [(function, kind)])
DECORATOR_FORMS = [
    ("from bifrost import workflow\n@workflow\ndef run(): pass", "workflow", [("run", "workflow")]),
    (
        "from bifrost import workflow\n@workflow(name='Run it', timeout=30)\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "from bifrost import workflow\n@workflow()\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "from bifrost import workflow as wf\n@wf\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    ("import bifrost\n@bifrost.workflow\ndef run(): pass", "workflow", [("run", "workflow")]),
    (
        "import bifrost\n@bifrost.workflow(name='x')\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "import bifrost as bf\n@bf.data_provider\ndef opts(): return []",
        "data_provider",
        [("opts", "data_provider")],
    ),
    (
        "from bifrost.runtime.sdk import workflow\n@workflow\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "import bifrost.runtime.sdk\n@bifrost.runtime.sdk.workflow\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "import bifrost.runtime.sdk as sdk\n@sdk.workflow()\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    ("from bifrost import *\n@workflow\ndef run(): pass", "workflow", [("run", "workflow")]),
    (
        "from bifrost import workflow\nwf = workflow\n@wf\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "try:\n    from bifrost import workflow\nexcept ImportError:\n"
        "    def workflow(f): return f\n@workflow\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "from bifrost import workflow\n@workflow\nasync def run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "from bifrost import data_provider, workflow\n"
        "@data_provider\ndef choices(): return []\n"
        "@workflow\ndef run(): pass",
        "workflow",
        [("choices", "data_provider"), ("run", "workflow")],
    ),
    (
        "from bifrost import data_provider\n@data_provider\ndef a(): pass\n"
        "@data_provider()\nasync def b(): pass",
        "data_provider",
        [("a", "data_provider"), ("b", "data_provider")],
    ),
    (
        "import functools\nfrom bifrost import workflow\n"
        "@functools.cache\n@workflow\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "from bifrost import data_provider as workflow\n@workflow\ndef opts(): pass",
        "data_provider",
        [("opts", "data_provider")],
    ),
    (
        # Python reads identifiers in NFKC form: these full-width letters spell "bifrost".
        "from \uff42\uff49\uff46\uff52\uff4f\uff53\uff54 import workflow\n@workflow\ndef run(): 0",
        "workflow",
        [("run", "workflow")],
    ),
    (
        "import typing\nif typing.TYPE_CHECKING:\n    pass\nelse:\n"
        "    from bifrost import workflow\n@workflow\ndef run(): pass",
        "workflow",
        [("run", "workflow")],
    ),
    # Not Bifrost's decorator:
    ("@workflow\ndef run(): pass", "module", []),
    ("from other import workflow\n@workflow\ndef run(): pass", "module", []),
    ("from .bifrost import workflow\n@workflow\ndef run(): pass", "module", []),
    ("import bifrostish\n@bifrostish.workflow\ndef run(): pass", "module", []),
    (
        "from bifrost import workflow\nfrom other import workflow\n@workflow\ndef run(): pass",
        "module",
        [],
    ),
    (
        "from bifrost import workflow\nworkflow = lambda f: f\n@workflow\ndef run(): pass",
        "module",
        [],
    ),
    ("@workflow\ndef run(): pass\nfrom bifrost import workflow", "module", []),
    ("from bifrost import workflow\nx = '@workflow'\n# @workflow\ndef run(): pass", "module", []),
    ("from bifrost import workflow\n@workflow.other\ndef run(): pass", "module", []),
    # Only direct children of the module count:
    (
        "from bifrost import workflow\nclass Jobs:\n    @workflow\n    def run(self): pass",
        "module",
        [],
    ),
    (
        "from bifrost import workflow\ndef outer():\n    @workflow\n    def inner(): pass",
        "module",
        [],
    ),
    (
        "from bifrost import workflow\nif True:\n    @workflow\n    def run(): pass",
        "module",
        [],
    ),
    (
        "from bifrost import workflow\n@workflow\nclass Run: pass",
        "module",
        [],
    ),
    # A later module-level definition of the same name replaces the workflow, as at run time:
    ("from bifrost import workflow\n@workflow\ndef run(): pass\ndef run(): pass", "module", []),
    ("import json\nx = json.dumps({})\n", "module", []),
    ("", "module", []),
]


@pytest.mark.parametrize(("source", "entity_type", "expected"), DECORATOR_FORMS)
def test_decorator_resolution(source: str, entity_type: str, expected: list) -> None:
    result = classify("mod.py", source.encode())
    assert result.syntax_error is None
    assert result.entity_type == entity_type
    assert names(result) == expected


def test_bare_workflow_import_inside_a_function_does_not_count() -> None:
    result = py(
        """
        def setup():
            from bifrost import workflow

        @workflow
        def run(): pass
        """
    )
    assert result.entity_type == "module"


def test_async_flag_options_and_description() -> None:
    result = py(
        '''
        from bifrost import workflow

        @workflow(name="Greet", timeout=30.5, tags=("a", "b"), retries=None, extra=compute())
        async def greet(name: str) -> str:
            """Say hello.

            Longer text.
            """
            return f"hello {name}"

        @workflow(description="From the decorator")
        def other():
            """From the docstring."""

        @workflow
        def bare():
            pass
        '''
    )
    greet, other, bare = result.workflows
    assert greet.is_async and not other.is_async
    assert greet.options == {"name": "Greet", "timeout": 30.5, "tags": ["a", "b"], "retries": None}
    assert greet.description == "Say hello."
    assert other.description == "From the decorator"
    assert bare.description is None and bare.options == {}


def test_parameters() -> None:
    result = py(
        """
        from bifrost import workflow
        import datetime

        @workflow
        def run(
            a,
            b: int,
            /,
            c: str = "x",
            d: "Forward" = None,
            *args: int,
            e: list[int] | None = None,
            f: dict = {"k": [1, 2.5, True]},
            g=(1, 2),
            h=datetime.date.today(),
            i=-1,
            j=float("inf"),
            k={1, 2},
            **kwargs: object,
        ): pass
        """
    )
    [definition] = result.workflows
    params = {p["name"]: p for p in definition.parameters}
    assert [p["name"] for p in definition.parameters] == [
        "a", "b", "c", "d", "args", "e", "f", "g", "h", "i", "j", "k", "kwargs",
    ]  # fmt: skip
    assert params["a"] == {
        "name": "a",
        "kind": "positional_only",
        "annotation": None,
        "has_default": False,
        "default": None,
    }
    assert params["b"]["kind"] == "positional_only" and params["b"]["annotation"] == "int"
    assert params["c"] == {
        "name": "c",
        "kind": "positional_or_keyword",
        "annotation": "str",
        "has_default": True,
        "default": "x",
    }
    assert params["d"]["annotation"] == "Forward"
    assert params["d"]["has_default"] is True and params["d"]["default"] is None
    assert params["args"]["kind"] == "var_positional" and params["args"]["annotation"] == "int"
    assert params["e"]["kind"] == "keyword_only"
    assert params["e"]["annotation"] == "list[int] | None"
    assert params["f"]["default"] == {"k": [1, 2.5, True]}
    assert params["g"]["default"] == [1, 2]
    assert params["h"]["default"] == "datetime.date.today()"  # Not a literal: its source.
    assert params["i"]["default"] == -1
    assert params["j"]["default"] == "float('inf')"
    assert params["k"]["default"] == "{1, 2}"  # A set is a literal, but not one JSON can hold.
    assert params["kwargs"]["kind"] == "var_keyword"
    assert params["kwargs"]["has_default"] is False
    json.dumps([p for w in result.workflows for p in w.parameters], allow_nan=False)


def test_workflow_def_is_json_serialisable() -> None:
    result = py("from bifrost import workflow\n@workflow(name='x')\ndef run(a: int = 1): pass\n")
    from dataclasses import asdict

    assert isinstance(result.workflows[0], WorkflowDef)
    assert json.loads(json.dumps(asdict(result)))["workflows"][0]["options"] == {"name": "x"}


def test_syntax_error_is_a_module_with_the_error() -> None:
    result = py("from bifrost import workflow\n\n@workflow\ndef run(:\n    pass\n")
    assert result.entity_type == "module"
    assert result.workflows == []
    assert result.syntax_error is not None
    assert result.syntax_error.startswith("SyntaxError: ")
    assert result.syntax_error.endswith("(line 4)")


def test_indentation_error_is_a_syntax_error() -> None:
    result = py("def f():\nreturn 1\n")
    assert result.syntax_error and result.syntax_error.startswith("SyntaxError: ")


def test_null_byte_in_source_is_a_syntax_error() -> None:
    result = classify("mod.py", b"x = 1\0\n")
    assert result.entity_type == "module" and result.syntax_error


def test_absurd_nesting_is_a_syntax_error_not_a_crash() -> None:
    result = classify("mod.py", b"x = " + b"-" * 200_000 + b"1\n")
    assert result.entity_type == "module" and result.syntax_error


def test_latin1_coding_cookie_is_respected() -> None:
    source = (
        "# -*- coding: latin-1 -*-\n"
        "from bifrost import workflow\n"
        "@workflow\n"
        "def caf\xe9(x='\xe9t\xe9'):\n"
        '    """Caf\xe9 au lait."""\n'
    ).encode("latin-1")
    [definition] = classify("mod.py", source).workflows
    assert definition.function_name == "café"
    assert definition.parameters[0]["default"] == "été"
    assert definition.description == "Café au lait."


def test_utf8_bom_is_accepted() -> None:
    result = classify(
        "mod.py", b"\xef\xbb\xbffrom bifrost import workflow\n@workflow\ndef r(): 0\n"
    )
    assert result.entity_type == "workflow"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"x = '\xff'\n", "byte 0xff on line 1"),
        (b"# ok\n\nx = '\xe9'\n", "line 3"),
        (b"# -*- coding: no-such-codec -*-\nx = 1\n", "no-such-codec"),
        (b"\xef\xbb\xbf# coding: latin-1\nx = 1\n", "byte order mark"),
        (b"# coding: rot13\nx = 1\n", "not a text encoding"),
        (
            b"#!/usr/bin/env python\n# vim: fileencoding=ascii\nx = '\xe9'\n",
            "ascii text: byte 0xe9 on line 3",
        ),
    ],
)
def test_undecodable_python_raises(content: bytes, fragment: str) -> None:
    with pytest.raises(UndecodableSource) as caught:
        classify("pkg/mod.py", content)
    assert fragment in str(caught.value)
    assert "'pkg/mod.py'" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_crlf_line_endings() -> None:
    source = b'from bifrost import workflow\r\n\r\n@workflow\r\ndef run():\r\n    """Doc."""\r\n'
    result = classify("mod.py", source)
    assert names(result) == [("run", "workflow")]
    assert result.workflows[0].description == "Doc."
    broken = classify("mod.py", b"x = 1\r\ny = (\r\n")
    assert broken.syntax_error is not None


def test_a_large_module_is_classified_whole() -> None:
    chunk = (
        "@workflow(name='w{i}')\n"
        "def f{i}(a: int, b: str = 'x') -> dict:\n"
        "    '''Doc {i}.'''\n"
        "    return {{'a': a, 'b': b, 'values': [a * n for n in range(10)]}}\n\n"
    )
    source = "from bifrost import workflow\n" + "".join(chunk.format(i=i) for i in range(5000))
    result = classify("big.py", source.encode())
    assert len(result.workflows) == 5000


NON_PYTHON = [
    ("requirements.txt", b"httpx==0.27\n", "requirements"),
    ("sub/requirements.txt", b"httpx\n", "text"),
    ("forms/intake.form.json", b"{}", "form"),
    ("apps/portal.app.json", b"{}", "app"),
    ("agents/helper.agent.json", b"{}", "agent"),
    ("config.json", b'{"a": 1}', "data"),
    ("config.YAML", b"a: 1\n", "data"),
    ("c.yml", b"a: 1\n", "data"),
    ("pyproject.toml", b"[x]\n", "data"),
    ("table.csv", b"a,b\n", "data"),
    ("table.tsv", b"a\tb\n", "data"),
    ("feed.xml", b"<a/>", "data"),
    ("setup.ini", b"[a]\n", "data"),
    ("README.md", b"# Hi\n", "text"),
    ("Dockerfile", b"FROM python\n", "text"),
    ("notes.txt", "naïve\n".encode(), "text"),
    ("logo.png", b"\x89PNG\r\n\x1a\n\0\0", "binary"),
    ("blob.json", b"\xff\xfe{", "binary"),
    ("nul.txt", b"a\0b", "binary"),
    ("empty.txt", b"", "text"),
]


@pytest.mark.parametrize(("path", "content", "entity_type"), NON_PYTHON)
def test_non_python_files(path: str, content: bytes, entity_type: str) -> None:
    result = classify(path, content)
    assert result == Classification(entity_type, [], None)


@pytest.mark.parametrize(
    ("path", "content", "expected"),
    [
        ("mod.py", b"x = 1", "text/x-python"),
        ("a/b.json", b"{}", "application/json"),
        ("f.form.json", b"{}", "application/json"),
        ("c.yaml", b"", "application/yaml"),
        ("README.md", b"", "text/markdown"),
        ("t.csv", b"", "text/csv"),
        ("logo.PNG", b"\x89PNG", "image/png"),
        ("notes.txt", b"", "text/plain"),
        ("archive.tar.gz", b"\x1f\x8b", "application/gzip"),
        ("Makefile", b"all:\n", "text/plain"),
        ("blob", b"\0\1\2", "application/octet-stream"),
        ("weird.zzz", b"\xff", "application/octet-stream"),
    ],
)
def test_content_type(path: str, content: bytes, expected: str) -> None:
    assert content_type(path, content) == expected


@pytest.mark.parametrize("content", [b"", b"hello\n", bytes(range(256)) * 10])
def test_git_blob_sha_matches_git(content: bytes) -> None:
    expected = hashlib.sha1(b"blob " + str(len(content)).encode() + b"\0" + content).hexdigest()
    assert git_blob_sha(content) == expected


def test_git_blob_sha_known_values() -> None:
    assert git_blob_sha(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert git_blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_git_blob_sha_agrees_with_git_binary() -> None:
    content = b"print('hi')\r\n\0binary"
    try:
        out = subprocess.run(
            ["git", "hash-object", "--stdin"], input=content, capture_output=True, check=True
        )
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("git is not available")
    assert git_blob_sha(content) == out.stdout.decode().strip()
