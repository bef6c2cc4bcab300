"""The sync tests share the GitHub tests' fake GitHub (one server per session)."""

from __future__ import annotations

from tests.github.conftest import api, fake_github, github_repo  # noqa: F401 - fixtures

__all__: list[str] = []
