"""The GitHub REST endpoints the sync needs, as typed calls (``bifrost.github.models``).

Sending, retrying and translating failures is ``transport``'s job; this module says which request
each operation is, how it may be retried, and what its answer means. Usage::

    async with GitHubClient.from_settings(settings, token) as gh:
        head = await gh.head("octocat/hello", "main", etag=stored_etag)
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from bifrost.github.errors import (
    BranchNotFound,
    CorruptContent,
    EmptyRepository,
    RepositoryNotFound,
    Unprocessable,
)
from bifrost.github.models import (
    BLOB,
    Branch,
    Commit,
    CommitSummary,
    Head,
    NewEntry,
    NotModified,
    Page,
    Repository,
    Tree,
    TreeEntry,
    Viewer,
)
from bifrost.github.transport import Call, Transport, TransportClient, settings_options
from bifrost.settings import Settings
from bifrost.workspace.entities import git_blob_sha

RAW_MEDIA_TYPE = "application/vnd.github.raw+json"


class GitHubClient(TransportClient):
    """One token's view of GitHub, on one pooled connection; close it (or use ``async with``).
    ``token`` is a personal token, or an ``httpx.Auth`` that supplies one per request (a GitHub
    App's installation token: ``bifrost.github.app_auth``)."""

    def __init__(
        self,
        api_url: str,
        token: str | httpx.Auth,
        *,
        timeout_s: float = 30.0,
        max_retries: int = 5,
        max_backoff_s: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = Transport(
            api_url,
            token,
            timeout_s=timeout_s,
            max_retries=max_retries,
            max_backoff_s=max_backoff_s,
            transport=transport,
            sleep=sleep,
        )

    @classmethod
    def from_settings(cls, settings: Settings, token: str | httpx.Auth) -> GitHubClient:
        return cls(settings.github_api_url, token, **settings_options(settings))

    @property
    def calls(self) -> Counter[str]:
        """Requests made, per "METHOD /route" (retries and 304s included); ``calls.total()``."""
        return self._http.calls

    @property
    def writes(self) -> int:
        """POST, PATCH and PUT requests made."""
        return self._http.writes

    # --- the token and its repositories -------------------------------------------------------

    async def viewer(self) -> Viewer:
        """Who the token belongs to: the check that it works at all."""

        def read(response: httpx.Response) -> Viewer:
            scopes = response.headers.get("x-oauth-scopes")
            return Viewer(
                login=response.json()["login"],
                scopes=None if scopes is None else [s.strip() for s in scopes.split(",") if s],
            )

        return await self._http.fetch(Call("GET", "/user", "/user"), read)

    async def repositories(self, *, page: int = 1, per_page: int = 50) -> Page[Repository]:
        call = Call(
            "GET",
            "/user/repos",
            "/user/repos",
            params={"sort": "updated", "page": page, "per_page": per_page},
        )
        return await self._http.fetch(call, lambda r: _page(r, _repository))

    async def repository(self, full_name: str) -> Repository:
        call = _on_repo("GET", "/repos", full_name, "")
        return await self._http.fetch(call, lambda r: _repository(r.json()))

    async def installation_repositories(
        self, *, page: int = 1, per_page: int = 50
    ) -> Page[Repository]:
        """The repositories a GitHub App's installation token may use (``/user/repos`` is for
        people: an installation token gets a 403 there)."""
        call = Call(
            "GET",
            "/installation/repositories",
            "/installation/repositories",
            params={"page": page, "per_page": per_page},
        )

        def read(response: httpx.Response) -> Page[Repository]:
            items = [_repository(item) for item in response.json()["repositories"]]
            return Page(items=items, next_page=_next_page(response))

        return await self._http.fetch(call, read)

    async def create_repository(
        self, name: str, *, owner: str | None = None, private: bool = True, description: str = ""
    ) -> Repository:
        """An empty repository (no README: the first sync makes the first commit)."""
        route, path = ("/user/repos", "/user/repos")
        if owner is not None:
            route, path = ("/orgs/repos", f"/orgs/{quote(owner, safe='')}/repos")
        call = Call(
            "POST",
            route,
            path,
            repository=f"{owner}/{name}" if owner else name,
            json={"name": name, "private": private, "description": description, "auto_init": False},
            idempotent=False,
        )
        return await self._http.fetch(call, lambda r: _repository(r.json()))

    async def branches(self, full_name: str, *, page: int = 1, per_page: int = 100) -> Page[Branch]:
        call = _on_repo(
            "GET",
            "/branches",
            full_name,
            "/branches",
            params={"page": page, "per_page": per_page},
        )

        def branch(item: dict[str, Any]) -> Branch:
            return Branch(name=item["name"], sha=item["commit"]["sha"])

        return await self._http.fetch(call, lambda r: _page(r, branch))

    async def commits(
        self, full_name: str, branch: str, *, page: int = 1, per_page: int = 30
    ) -> Page[CommitSummary]:
        """The branch's history, newest first; an empty repository has none."""
        call = _on_repo(
            "GET",
            "/commits",
            full_name,
            "/commits",
            subject=f"branch {branch}",
            params={"sha": branch, "page": page, "per_page": per_page},
        )
        try:
            return await self._http.fetch(call, lambda r: _page(r, _commit_summary))
        except EmptyRepository:
            return Page(items=[])
        except RepositoryNotFound as exc:
            raise await self._branch_missing(full_name, branch) from exc

    # --- reading the branch --------------------------------------------------------------------

    async def head(
        self, full_name: str, branch: str, *, etag: str | None = None
    ) -> Head | NotModified | None:
        """The branch's commit; ``NotModified`` when ``etag`` still holds (a 304 costs no rate
        limit); None when the repository is empty."""
        call = _on_repo(
            "GET",
            "/git/ref",
            full_name,
            f"/git/ref/heads/{_ref(branch)}",
            subject=f"branch {branch}",
            headers={"If-None-Match": etag} if etag else {},
        )

        def read(response: httpx.Response) -> Head | NotModified:
            if response.status_code == httpx.codes.NOT_MODIFIED:
                return NotModified(etag=response.headers.get("etag", etag))
            return Head(sha=response.json()["object"]["sha"], etag=response.headers.get("etag"))

        try:
            return await self._http.fetch(call, read)
        except EmptyRepository:
            return None
        except RepositoryNotFound as exc:
            raise await self._branch_missing(full_name, branch) from exc

    async def commit(self, full_name: str, sha: str) -> Commit:
        call = _on_repo(
            "GET",
            "/git/commits",
            full_name,
            f"/git/commits/{quote(sha, safe='')}",
            subject=f"commit {sha}",
        )

        def read(response: httpx.Response) -> Commit:
            body = response.json()
            return Commit(
                sha=body["sha"],
                tree_sha=body["tree"]["sha"],
                parents=[parent["sha"] for parent in body["parents"]],
                message=body.get("message") or "",
            )

        return await self._http.fetch(call, read)

    async def tree(self, full_name: str, tree_sha: str, *, recursive: bool = True) -> Tree:
        """Every entry under the tree, or only its own when not ``recursive``; ``truncated``
        when GitHub cut a recursive listing short (walk the subtrees instead)."""
        call = _on_repo(
            "GET",
            "/git/trees",
            full_name,
            f"/git/trees/{quote(tree_sha, safe='')}",
            subject=f"tree {tree_sha}",
            # Any value of `recursive`, 0 and "false" included, turns recursion on.
            params={"recursive": 1} if recursive else {},
        )

        def read(response: httpx.Response) -> Tree:
            body = response.json()
            entries = [
                TreeEntry(
                    path=item["path"],
                    mode=item["mode"],
                    type=item["type"],
                    sha=item["sha"],
                    size=item.get("size"),
                )
                for item in body["tree"]
            ]
            return Tree(sha=body["sha"], entries=entries, truncated=bool(body.get("truncated")))

        return await self._http.fetch(call, read)

    async def blob(self, full_name: str, sha: str) -> bytes:
        """The blob's exact bytes, checked against ``sha``."""
        call = _on_repo(
            "GET",
            "/git/blobs",
            full_name,
            f"/git/blobs/{quote(sha, safe='')}",
            subject=f"blob {sha}",
            headers={"Accept": RAW_MEDIA_TYPE},
        )
        content = await self._http.fetch(call, lambda r: r.content)
        actual = git_blob_sha(content)
        if actual != sha:
            raise CorruptContent(
                f"GitHub sent {len(content)} bytes for blob {sha} of {full_name} that hash to "
                f"{actual}; nothing was changed: try again"
            )
        return content

    async def tarball(self, full_name: str, ref: str) -> bytes:
        """A gzip tar of the tree at ``ref`` (GitHub redirects to a download host)."""
        call = _on_repo(
            "GET",
            "/tarball",
            full_name,
            f"/tarball/{_ref(ref)}",
            subject=f"ref {ref}",
            follow_redirects=True,
        )
        return await self._http.fetch(call, lambda r: r.content)

    # --- writing a commit ----------------------------------------------------------------------

    async def create_blob(self, full_name: str, content: bytes) -> str:
        call = _on_repo(
            "POST",
            "/git/blobs",
            full_name,
            "/git/blobs",
            json={"content": base64.b64encode(content).decode("ascii"), "encoding": "base64"},
        )
        sha = await self._http.fetch(call, lambda r: r.json()["sha"])
        expected = git_blob_sha(content)
        if sha != expected:
            raise CorruptContent(
                f"GitHub stored {len(content)} bytes on {full_name} as blob {sha}, but they "
                f"hash to {expected}; nothing was pushed: try again"
            )
        return sha

    async def create_tree(
        self, full_name: str, entries: Sequence[NewEntry], *, base_tree: str | None
    ) -> str:
        """A tree of ``entries`` laid over ``base_tree`` (None: the tree holds only them)."""
        body: dict[str, Any] = {"tree": [_tree_entry(entry) for entry in entries]}
        if base_tree is not None:
            body["base_tree"] = base_tree
        call = _on_repo("POST", "/git/trees", full_name, "/git/trees", json=body)
        return await self._http.fetch(call, lambda r: r.json()["sha"])

    async def create_commit(
        self, full_name: str, *, message: str, tree: str, parents: list[str]
    ) -> str:
        call = _on_repo(
            "POST",
            "/git/commits",
            full_name,
            "/git/commits",
            json={"message": message, "tree": tree, "parents": parents},
        )
        return await self._http.fetch(call, lambda r: r.json()["sha"])

    async def update_ref(self, full_name: str, branch: str, sha: str) -> str:
        """Move the branch to ``sha`` if that is a fast-forward (never force): NotFastForward
        when the branch moved since it was read."""
        call = _on_repo(
            "PATCH",
            "/git/refs",
            full_name,
            f"/git/refs/heads/{_ref(branch)}",
            subject=f"branch {branch}",
            json={"sha": sha, "force": False},
            landed=lambda: self._points_at(full_name, branch, sha),
            ref_update=True,
        )
        return await self._write_ref(call, sha)

    async def create_ref(self, full_name: str, branch: str, sha: str) -> str:
        call = _on_repo(
            "POST",
            "/git/refs",
            full_name,
            "/git/refs",
            subject=f"branch {branch}",
            json={"ref": f"refs/heads/{branch}", "sha": sha},
            landed=lambda: self._points_at(full_name, branch, sha),
        )
        return await self._write_ref(call, sha)

    async def put_contents(
        self, full_name: str, path: str, content: bytes, *, message: str, branch: str
    ) -> str:
        """Commit one new file: the only way to make the first commit of an empty repository
        (blob and tree creation answer 409 there). Returns the commit's SHA."""
        call = _on_repo(
            "PUT",
            "/contents",
            full_name,
            f"/contents/{quote(path, safe='/')}",
            subject=f"branch {branch}",
            json={
                "message": message,
                "content": base64.b64encode(content).decode("ascii"),
                "branch": branch,
            },
            idempotent=False,
        )
        return await self._http.fetch(call, lambda r: r.json()["commit"]["sha"])

    # --- helpers -------------------------------------------------------------------------------

    async def _write_ref(self, call: Call, sha: str) -> str:
        response = await self._http.send(call)
        if response is None:  # the answer was lost, but the read-back shows the ref at `sha`
            return sha
        return self._http.read(call, response, lambda r: r.json()["object"]["sha"])

    async def _points_at(self, full_name: str, branch: str, sha: str) -> bool:
        head = await self.head(full_name, branch)
        return isinstance(head, Head) and head.sha == sha

    async def _branch_missing(self, full_name: str, branch: str) -> BranchNotFound:
        """A 404 on a branch: the repository's own 404 if it is missing too, else BranchNotFound."""
        repository = await self.repository(full_name)
        return BranchNotFound(
            f"{full_name} has no branch {branch}: pick one of its branches (the default is "
            f"{repository.default_branch or 'not set'}), or create it on GitHub"
        )


def _on_repo(method: str, route: str, full_name: str, rest: str, **options: Any) -> Call:
    """A call on one repository: its path is the repository's plus ``rest``, and its errors
    name the repository."""
    return Call(method, route, _repo(full_name) + rest, repository=full_name, **options)


def _repo(full_name: str) -> str:
    owner, slash, name = full_name.partition("/")
    if not (owner and slash and name) or "/" in name:
        raise Unprocessable(f"{full_name!r} is not a repository name: write it as owner/name")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def _ref(name: str) -> str:
    return quote(name, safe="/")


def _page(response: httpx.Response, item: Callable[[Any], Any]) -> Page[Any]:
    """A listing and the next page number from ``link: rel="next"`` (never built by hand)."""
    return Page(items=[item(entry) for entry in response.json()], next_page=_next_page(response))


def _next_page(response: httpx.Response) -> int | None:
    following = response.links.get("next", {}).get("url")
    next_page = httpx.URL(following).params.get("page") if following else None
    return int(next_page) if next_page else None


def _repository(body: dict[str, Any]) -> Repository:
    return Repository(
        full_name=body["full_name"],
        default_branch=body.get("default_branch"),
        private=bool(body.get("private")),
        can_push=bool((body.get("permissions") or {}).get("push")),
        html_url=body.get("html_url"),
    )


def _commit_summary(item: dict[str, Any]) -> CommitSummary:
    author = item["commit"].get("author") or {}
    return CommitSummary(
        sha=item["sha"],
        message=item["commit"]["message"],
        author=author.get("name"),
        date=author.get("date"),
        html_url=item.get("html_url"),
    )


def _tree_entry(entry: NewEntry) -> dict[str, Any]:
    """GitHub's shape: ``content`` (text it makes a blob of), ``sha``, or an explicit
    ``sha: null`` to delete (an omitted sha is a 422)."""
    shaped: dict[str, Any] = {"path": entry.path, "mode": entry.mode, "type": BLOB}
    if entry.content is not None:
        shaped["content"] = entry.content
    else:
        shaped["sha"] = entry.sha
    return shaped
