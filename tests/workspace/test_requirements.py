"""requirements.txt parsing and editing: packaging semantics, and hand-written lines left alone."""

from __future__ import annotations

import pytest

from bifrost.errors import UserError
from bifrost.workspace import requirements as reqs

VALID = [
    # (typed by the user, canonical name, extras, specifier, marker)
    ("requests", "requests", set(), "", None),
    ("Foo_Bar.baz>=1.2", "foo-bar-baz", set(), ">=1.2", None),
    ("name[extra]>=1.2", "name", {"extra"}, ">=1.2", None),
    ("pkg[b,a] >=1.0, !=1.3.*, <2", "pkg", {"a", "b"}, "!=1.3.*,<2,>=1.0", None),
    ("pkg>1", "pkg", set(), ">1", None),
    ("pkg<1", "pkg", set(), "<1", None),
    ("pkg~=1.4.2", "pkg", set(), "~=1.4.2", None),
    ("pkg===1.0-local", "pkg", set(), "===1.0-local", None),
    ('pkg; python_version >= "3.8"', "pkg", set(), "", 'python_version >= "3.8"'),
    ("zope.interface>=5", "zope-interface", set(), ">=5", None),
]


@pytest.mark.parametrize(("text", "name", "extras", "specifier", "marker"), VALID)
def test_parse_requirement(text: str, name: str, extras: set, specifier: str, marker) -> None:  # type: ignore[no-untyped-def]
    parsed = reqs.parse_requirement(text)
    assert reqs.canonical_name(parsed.name) == name
    assert parsed.extras == extras
    assert str(parsed.specifier) == specifier
    assert (str(parsed.marker) if parsed.marker else None) == marker


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-r other.txt", "pip option"),
        ("--index-url http://evil/simple", "pip option"),
        ("# comment", "pip option or comment"),
        ("pkg>=", "not a valid requirement"),
        ("pkg==1.0\nother", "one line"),
        ("pkg[", "not a valid requirement"),
        ("x" * 1001, "at most 1000"),
        # H2: a direct reference bypasses the administrator's index and builds whatever it names.
        ("pkg @ https://example.com/pkg-1.0.tar.gz", "direct references (name @ URL)"),
        ("x @ https://h/x.whl", "direct references (name @ URL)"),
        ("x @ file:///tmp/x", "direct references (name @ URL)"),
        ('x[a] @ file:///tmp/x ; python_version > "3"', "direct references (name @ URL)"),
        ("https://h/x-1.0.tar.gz", "URLs and paths are never installed"),
        ("git+https://h/x.git", "URLs and paths are never installed"),
        ("file:///tmp/x", "URLs and paths are never installed"),
        ("./local/path", "URLs and paths are never installed"),
        ("/tmp/x-1.0-py3-none-any.whl", "URLs and paths are never installed"),
        ("~/x.tar.gz", "URLs and paths are never installed"),
        ("sub/dir", "URLs and paths are never installed"),
        # Valid PEP 508 names that uv and pip would open as files in their working directory.
        ("evil-1.0-py3-none-any.whl", "is a file name"),
        ("evil-1.0.tar.gz", "is a file name"),
        ("evil.zip", "is a file name"),
    ],
)
def test_parse_requirement_refuses(text: str, says: str) -> None:
    with pytest.raises(UserError) as refused:
        reqs.parse_requirement(text)
    assert refused.value.status == 422 and says in refused.value.message


def test_canonical_name() -> None:
    assert reqs.canonical_name("Foo__Bar") == "foo-bar"
    with pytest.raises(UserError):
        reqs.canonical_name("not a name!")


HAND_WRITTEN = """\
# Packages for our automations
requests>=2.31  # http client

Django_Rest.Framework[extra]==3.0 ; python_version >= "3"
--index-url https://example.invalid/simple
./local/path
long-one>=1.0, \\
    <2.0
direct @ https://example.invalid/direct-1.0.tar.gz
https://example.invalid/bare-1.0.tar.gz
thing-1.0-py3-none-any.whl
"""


def test_parse_keeps_what_it_cannot_use_as_ignored_lines() -> None:
    entries = reqs.parse(HAND_WRITTEN)
    assert [e.name for e in entries] == [
        "requests",
        "django-rest-framework",
        None,
        None,
        "long-one",
        "direct",
        None,
        "thing-1-0-py3-none-any-whl",
    ]
    assert "pip options" in entries[2].error
    assert "not a valid requirement" in entries[3].error
    assert "URLs and paths are never installed" in entries[3].error
    assert str(entries[4].requirement.specifier) == "<2.0,>=1.0"
    # H2: never handed to an installer, and the reason says what to do instead.
    assert entries[5].requirement is None and entries[5].error == reqs.DIRECT_REFERENCE
    assert "BIFROST_PACKAGE_INDEX_ARGS" in entries[5].error
    assert entries[6].requirement is None and reqs.LOCATION in entries[6].error
    assert entries[7].requirement is None and "is a file name" in entries[7].error
    assert [str(r) for r in reqs.requirements(HAND_WRITTEN)] == [
        "requests>=2.31",
        'Django_Rest.Framework[extra]==3.0; python_version >= "3"',
        "long-one<2.0,>=1.0",
    ]


def test_add_appends_and_keeps_everything_else() -> None:
    added = reqs.add(HAND_WRITTEN, reqs.parse_requirement("new-pkg[x]>=1.2"))
    assert added == HAND_WRITTEN + "new-pkg[x]>=1.2\n"
    assert reqs.add("", reqs.parse_requirement("a")) == "a\n"
    assert reqs.add("a", reqs.parse_requirement("b")) == "a\nb\n"  # no final newline before


def test_add_replaces_the_same_package_by_canonical_name() -> None:
    replaced = reqs.add(HAND_WRITTEN, reqs.parse_requirement("REQUESTS==2.32.3"))
    assert replaced == HAND_WRITTEN.replace("requests>=2.31  # http", "REQUESTS==2.32.3  # http")
    multi = reqs.add(HAND_WRITTEN, reqs.parse_requirement("Long_One>=3"))
    assert "./local/path\nLong_One>=3\ndirect @ " in multi
    # An ignored direct reference is replaced by the named requirement of the same project.
    direct = reqs.add(HAND_WRITTEN, reqs.parse_requirement("Direct==1.0"))
    assert "direct @" not in direct and "\nDirect==1.0\nhttps://example.invalid/bare" in direct
    duplicates = reqs.add("a==1\nb\nA==2\n# end\n", reqs.parse_requirement("a>=3"))
    assert duplicates == "a>=3\nb\n# end\n"


def test_remove_every_line_of_the_package() -> None:
    content, removed = reqs.remove(HAND_WRITTEN, "django-rest-framework")
    assert removed == ['Django_Rest.Framework[extra]==3.0 ; python_version >= "3"']
    assert "Django" not in content and "# Packages for our automations" in content
    content, removed = reqs.remove(content, "LONG_ONE")
    assert removed == ["long-one>=1.0, <2.0"] and "long-one" not in content
    content, removed = reqs.remove(content, "direct")
    assert removed == ["direct @ https://example.invalid/direct-1.0.tar.gz"]
    assert content.endswith(
        "./local/path\nhttps://example.invalid/bare-1.0.tar.gz\nthing-1.0-py3-none-any.whl\n"
    )
    unchanged, removed = reqs.remove(HAND_WRITTEN, "absent")
    assert unchanged == HAND_WRITTEN and removed == []


def test_comment_rules_follow_pip() -> None:
    (entry,) = reqs.parse("pkg#egg  # note\n")
    assert entry.text == "pkg#egg" and entry.comment == "  # note"
