"""A small synchronous client of the fake's control API, for tests and the bench."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx

# What a teammate's commit takes per path: text, bytes, None (delete), (content, "100755"),
# or the control API's own {"text" | "base64", "mode"}.
FileSpec = str | bytes | None | tuple[str | bytes, str] | dict[str, str]


@dataclass(frozen=True)
class FakeFile:
    mode: str
    sha: str
    content: bytes


def file_spec(value: FileSpec) -> dict[str, str] | None:
    if value is None or isinstance(value, dict):
        return value
    content, mode = value if isinstance(value, tuple) else (value, "100644")
    if isinstance(content, bytes):
        return {"base64": base64.b64encode(content).decode(), "mode": mode}
    return {"text": content, "mode": mode}


class FakeGitHub:
    """``url`` is the API base to give a GitHub client; ``token`` a token the fake accepts."""

    def __init__(self, url: str, token: str, *, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FakeGitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, f"/_fake/{path}", **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def create_repo(
        self, full_name: str, *, default_branch: str = "main", private: bool = True
    ) -> dict:
        """An empty repository (GitHub's repository JSON)."""
        return self._call(
            "POST",
            "repos",
            json={"full_name": full_name, "default_branch": default_branch, "private": private},
        )

    def commit(
        self,
        full_name: str,
        files: dict[str, FileSpec],
        *,
        branch: str | None = None,
        message: str = "A teammate's change",
    ) -> str:
        """A teammate's commit on ``branch`` (the default one); returns its SHA."""
        return self._call(
            "POST",
            "commit",
            json={
                "full_name": full_name,
                "branch": branch,
                "message": message,
                "files": {path: file_spec(v) for path, v in files.items()},
            },
        )["sha"]

    def files(self, full_name: str, ref: str | None = None) -> dict[str, FakeFile]:
        """What the branch (or commit) holds."""
        found = self._call("GET", "files", params={"full_name": full_name, "ref": ref or ""})
        return {
            path: FakeFile(f["mode"], f["sha"], base64.b64decode(f["base64"]))
            for path, f in found.items()
        }

    def fault(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str | None = None,
        action: str = "error",
    ) -> int:
        """Arm a fault for the next ``times`` requests matching; ``path`` is a regex."""
        spec = {
            "method": method,
            "path": path,
            "status": status,
            "times": times,
            "headers": headers or {},
            "message": message,
            "action": action,
        }
        return self._call("POST", "faults", json=spec)["id"]

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def release(self) -> int:
        """Let every hanging request go on; returns how many were held."""
        return self._call("POST", "release")["released"]

    def race(
        self,
        full_name: str,
        files: dict[str, FileSpec],
        *,
        branch: str | None = None,
        message: str = "A teammate's change",
    ) -> None:
        """Commit ``files`` as a teammate right before the next ref update of ``branch``."""
        self._call(
            "POST",
            "race",
            json={
                "full_name": full_name,
                "branch": branch,
                "message": message,
                "files": {path: file_spec(v) for path, v in files.items()},
            },
        )

    def requests(self) -> list[dict]:
        """``[{"method", "path", "status", "state", "query"}]`` since the last reset."""
        return self._call("GET", "requests")

    def reset_requests(self) -> None:
        self._call("DELETE", "requests")

    def configure(
        self,
        *,
        max_tree_entries: int | None = None,
        max_tree_bytes: int | None = None,
        installation_token_lifetime_s: float | None = None,
    ) -> dict:
        """Set limits; ``max_tree_bytes=0`` turns the size limit off again;
        ``installation_token_lifetime_s`` applies to installation tokens minted from now on
        (GitHub's is 3600)."""
        spec: dict[str, float | None] = {}
        if max_tree_entries is not None:
            spec["max_tree_entries"] = max_tree_entries
        if max_tree_bytes is not None:
            spec["max_tree_bytes"] = max_tree_bytes or None
        if installation_token_lifetime_s is not None:
            spec["installation_token_lifetime_s"] = installation_token_lifetime_s
        return self._call("POST", "config", json=spec)

    def register_app(
        self, public_key_pem: str, *, slug: str = "bifrost-sync", owner: str = "octocat"
    ) -> int:
        """A GitHub App whose JWTs the fake checks against ``public_key_pem``; its id."""
        spec = {"public_key": public_key_pem, "slug": slug, "owner": owner}
        return self._call("POST", "apps", json=spec)["id"]

    def install_app(
        self,
        app_id: int,
        account: str,
        *,
        repositories: list[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> int:
        """Install the app on ``account`` (every repository, or only ``repositories``); the
        installation's id. Default permissions: contents write, metadata read."""
        spec = {
            "app_id": app_id,
            "account": account,
            "repositories": repositories,
            "permissions": permissions,
        }
        return self._call("POST", "installations", json=spec)["id"]
