"""The entity tests share the GitHub tests' fixtures: the fake GitHub, a fresh repository per
test, the `bifrost up` environment that talks to it, and an admin client."""

from tests.github.conftest import api, cluster_env, fake_github, github_repo

__all__ = ["api", "cluster_env", "fake_github", "github_repo"]
