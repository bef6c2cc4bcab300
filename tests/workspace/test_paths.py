"""Workspace path validation: what is refused, and that the refusal tells the user what to do."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bifrost.workspace.paths import (
    InvalidPath,
    check_python_path,
    module_name,
    normalize_path,
    reserved_top_level_names,
)

VALID = [
    "main.py",
    "shared/greeting.py",
    "pkg/__init__.py",
    "requirements.txt",
    "forms/intake.form.json",
    "docs/read me.md",
    ".github/workflows/ci.yml",
    "data/ünïcode-名前.csv",
    "a" * 255,
    "/".join(["abcdefghi"] * 100),  # 999 characters
]


@pytest.mark.parametrize("path", VALID)
def test_valid_paths_are_returned_unchanged(path: str) -> None:
    assert normalize_path(path) == path


INVALID = [
    # (path, a fragment the message must contain)
    ("", "empty"),
    ("../x.py", "'..'"),
    ("a/../../etc/passwd", "'..'"),
    ("a/..", "'..'"),
    ("./a.py", "'.' segment"),
    ("a/./b.py", "'.' segment"),
    ("/abs.py", "relative to the workspace root"),
    ("//x", "absolute"),
    ("C:/x.py", "drive letter"),
    ("c:x.py", "drive letter"),
    ("a\\b.py", "'a\\b.py' contains a backslash; separate folders with '/'"),
    ("a\\b.py", "'a/b.py'"),
    ("a\0b.py", "NUL"),
    ("a\nb.py", "control character U+000A"),
    ("a\x1bb.py", "control character"),
    ("a\x7fb.py", "control character"),
    ("evil\u202egnp.py", "U+202E"),
    ("a\ud800.py", "not valid Unicode"),
    ("a//b.py", "'//'"),
    ("a//b.py", "'a/b.py'"),
    ("a/", "ends with '/'"),
    (".git/config", "reserved for git"),
    ("sub/.git/HEAD", "reserved for git"),
    (".GIT/config", "reserved for git"),
    ("x/.git", "reserved for git"),
    ("a/b " + "/c.py", "white space"),
    (" a.py", "white space"),
    ("x" * 1001, "1001 characters"),
    ("a" * 256, "256 bytes"),
    ("é" * 128, "256 bytes"),
]


@pytest.mark.parametrize(("path", "fragment"), INVALID)
def test_invalid_paths_are_refused_with_an_explanation(path: str, fragment: str) -> None:
    with pytest.raises(InvalidPath) as caught:
        normalize_path(path)
    assert fragment in str(caught.value)
    assert caught.value.status == 422
    assert isinstance(caught.value, ValueError)


def test_error_messages_stay_short_for_huge_input() -> None:
    with pytest.raises(InvalidPath) as caught:
        normalize_path("x" * 100_000)
    assert len(str(caught.value)) < 300


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidPath):
        normalize_path(b"a.py")  # type: ignore[arg-type]


def test_status_hint_can_be_set() -> None:
    assert InvalidPath("too big", status=413).status == 413


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("shared/greeting.py", "shared.greeting"),
        ("main.py", "main"),
        ("pkg/__init__.py", "pkg"),
        ("a/b/c/__init__.py", "a.b.c"),
        ("__init__.py", None),
        ("notes.txt", None),
        ("forms/x.form.json", None),
        ("script.pyc", None),
    ],
)
def test_module_name(path: str, expected: str | None) -> None:
    assert module_name(path) == expected


RESERVED = reserved_top_level_names()

ALLOWED_PYTHON = [
    "main.py",
    "shared/json.py",  # Only the top-level name can shadow anything.
    "shared/requests.py",
    "pkg/__init__.py",
    "__init__.py",
    "my_pkg/sub_pkg/mod_2.py",
    "match.py",  # Soft keywords are valid module names.
    "café.py",
    "notes/my-notes.txt",  # Not Python: only normalize_path applies.
    "json.txt",
]


@pytest.mark.parametrize("path", ALLOWED_PYTHON)
def test_importable_python_paths_pass(path: str) -> None:
    check_python_path(path, RESERVED)


REFUSED_PYTHON = [
    ("my-file.py", "rename 'my-file.py' to 'my_file.py'"),
    ("shared/my-file.py", "rename 'my-file.py' to 'my_file.py'"),
    ("class.py", "Python keyword"),
    ("class.py", "'class_.py'"),
    ("2fa.py", "'_2fa.py'"),
    ("foo.bar.py", "'foo_bar.py'"),
    ("my-dir/x.py", "rename the folder to 'my_dir'"),
    ("a/for/x.py", "rename the folder to 'a/for_'"),
    ("ﬁle.py", "NFKC"),
    ("json.py", "would shadow the standard-library module 'json'; rename it"),
    ("json/__init__.py", "the folder 'json/' would shadow the standard-library module 'json'"),
    ("email/utils.py", "standard-library module 'email'"),
    ("sys.py", "built-in module 'sys'"),
    ("httpx.py", "installed package 'httpx'"),
    ("dateutil/x.py", "the module 'dateutil' of the installed package 'python-dateutil'"),
    ("bifrost.py", "the platform's own package 'bifrost'"),
    ("bifrost/sdk.py", "the platform's own package 'bifrost'"),
    ("../x.py", "'..'"),  # The path itself is validated too.
]


@pytest.mark.parametrize(("path", "fragment"), REFUSED_PYTHON)
def test_unimportable_or_shadowing_python_paths_are_refused(path: str, fragment: str) -> None:
    with pytest.raises(InvalidPath) as caught:
        check_python_path(path, RESERVED)
    assert fragment in str(caught.value)


def test_default_reserved_names_are_computed() -> None:
    with pytest.raises(InvalidPath, match="standard-library"):
        check_python_path("os.py")


def test_plain_collection_of_reserved_names() -> None:
    with pytest.raises(InvalidPath, match="reserved"):
        check_python_path("tenant_x.py", {"tenant_x"})
    check_python_path("json.py", {"tenant_x"})


def test_reserved_names_and_reasons() -> None:
    assert RESERVED["json"] == "standard library"
    assert RESERVED["sys"] == "built-in module"
    assert RESERVED["__future__"] == "standard library"
    assert RESERVED["httpx"] == "installed package httpx"
    assert RESERVED["_pytest"] == "installed package pytest"
    assert RESERVED["bifrost"] == "the platform's own package"
    assert "shared" not in RESERVED
    assert set(sys.stdlib_module_names) <= set(RESERVED)


def _fake_distribution(root: Path, name: str, files: dict[str, str], top_level: str | None) -> None:
    """Write a distribution the way an installer lays it out in a --target directory."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    record = [f"{name}-1.0.dist-info/METADATA,,"]
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        record.append(f"{relative},,")
    (info / "RECORD").write_text("\n".join(record) + "\n")
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level)


def test_reserved_names_include_packages_in_extra_directories(tmp_path: Path) -> None:
    _fake_distribution(tmp_path, "acme-client", {"acme/__init__.py": ""}, top_level="acme\n")
    _fake_distribution(
        tmp_path,
        "loose",
        {"loose_mod.py": "", "loose_pkg/__init__.py": "", "fast.cpython-311-x86_64.so": ""},
        top_level=None,
    )
    names = reserved_top_level_names([str(tmp_path), str(tmp_path / "missing")])
    assert names["acme"] == "installed package acme-client"
    assert names["loose_mod"] == "installed package loose"
    assert names["loose_pkg"] == "installed package loose"
    assert names["fast"] == "installed package loose"
    assert names["json"] == "standard library"
    with pytest.raises(
        InvalidPath, match="the module 'acme' of the installed package 'acme-client'"
    ):
        check_python_path("acme.py", names)


def test_reserved_names_notice_a_package_installed_later(tmp_path: Path) -> None:
    assert "later" not in reserved_top_level_names([str(tmp_path)])
    _fake_distribution(tmp_path, "later", {"later/__init__.py": ""}, top_level="later\n")
    assert reserved_top_level_names([str(tmp_path)])["later"] == "installed package later"
