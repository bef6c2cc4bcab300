"""The orphan tests run against the fake GitHub like the sync tests (same fixtures)."""

from tests.github.conftest import api, cluster_env, fake_github, github_repo  # noqa: F401
