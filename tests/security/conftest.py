"""The fake GitHub's fixtures, for the security tests that stage leaks against it."""

from tests.github.conftest import fake_github, github_repo  # noqa: F401 - fixtures
