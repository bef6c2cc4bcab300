"""The configuration's own input rules (``bifrost.github.connection``): repository names as
GitHub spells them, branch names as git accepts them, tokens that can go into a header."""

from __future__ import annotations

import pytest

from bifrost.errors import InvalidInput
from bifrost.github.connection import check_branch, check_repository, check_token

GOOD_REPOSITORIES = ["octocat/hello", "a/b", "Org-1/my.repo_name-2", "x" * 39 + "/" + "y" * 100]
BAD_REPOSITORIES = [
    "",
    "octocat",
    "octocat/",
    "/hello",
    "a/b/c",
    "-octo/x",
    "octo-/x",
    "oc to/x",
    "o/..",
    "o/.",
    "x" * 40 + "/y",
    "o/" + "y" * 101,
    "o/na me",
    "https://github.com/o/r",
    "o/r\n",
]
GOOD_BRANCHES = ["main", "release/2.0", "feature/x-y_z", "v1.2.3", "a.b", "ünïcode", "x" * 255]
BAD_BRANCHES = [
    "",
    "a..b",
    "a b",
    "-x",
    "x.lock",
    "a/x.lock/b",
    "a/.b",
    ".hidden",
    "x/",
    "/x",
    "a//b",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[b",
    "a\\b",
    "@",
    "x@{1}",
    "x.",
    "tab\there",
    "del\x7f",
    "x" * 256,
    "é" * 128,
]


@pytest.mark.parametrize("name", GOOD_REPOSITORIES)
def test_good_repository_names(name: str) -> None:
    assert check_repository(name) == name


@pytest.mark.parametrize("name", BAD_REPOSITORIES)
def test_bad_repository_names_say_how_to_write_one(name: str) -> None:
    with pytest.raises(InvalidInput, match="owner/name"):
        check_repository(name)


@pytest.mark.parametrize("name", GOOD_BRANCHES)
def test_good_branch_names(name: str) -> None:
    assert check_branch(name) == name


@pytest.mark.parametrize("name", BAD_BRANCHES)
def test_bad_branch_names_say_what_git_refuses(name: str) -> None:
    with pytest.raises(InvalidInput, match="not one git accepts"):
        check_branch(name)


def test_a_full_ref_is_refused_with_the_branch_to_write() -> None:
    with pytest.raises(InvalidInput, match=r"branch name alone \(main\)"):
        check_branch("refs/heads/main")


@pytest.mark.parametrize(
    "token", ["", "two words", "line\nbreak", "ghp_trailing\n", "ünicode", "x" * 513]
)
def test_tokens_that_cannot_be_sent_are_refused_without_being_repeated(token: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_token(token)
    assert token not in str(refused.value) or not token
