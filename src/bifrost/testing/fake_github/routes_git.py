"""GitHub's Git Data endpoints: refs, commits, trees and blobs, with GitHub's rules (fast-forward
only, 409 on an empty repository, truncated recursive listings, raw blobs)."""

from __future__ import annotations

import base64
import binascii
import itertools
from datetime import datetime
from typing import Any

from dulwich.objects import Blob, Commit, Tree
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bifrost.testing.fake_github import shapes
from bifrost.testing.fake_github.answers import answer, body, field, raw, urls
from bifrost.testing.fake_github.errors import ApiError, invalid, not_found
from bifrost.testing.fake_github.repo import Person
from bifrost.testing.fake_github.routes_repos import person
from bifrost.testing.fake_github.state import state_of
from bifrost.testing.fake_github.tree_input import changes

RAW_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw")
TOO_LARGE = "Your input was too large to process. Consider building the tree incrementally."


def _branch(ref: str) -> str:
    if not ref.startswith("heads/") or ref == "heads/":
        raise not_found()
    return ref.removeprefix("heads/")


async def get_ref(request: Request) -> Response:
    """``/git/ref/heads/b`` (one ref) and ``/git/refs/heads/b`` (one ref, or the refs under a
    prefix); ETag and ``If-None-Match`` -> 304 come with every GET."""
    repo, _ = state_of(request).repo(request)
    repo.require_content()
    ref = request.path_params["ref"]
    u, full = urls(request), repo.meta.full_name
    branch = _branch(ref) if ref != "heads" else ""
    sha = repo.head(branch) if branch else None
    if sha is not None:
        return answer(request, shapes.ref(u, full, branch, sha))
    if "/git/refs/" in request.url.path:
        under = [(n, s) for n, s in repo.heads().items() if not branch or n.startswith(branch)]
        if under:
            return answer(request, [shapes.ref(u, full, n, s) for n, s in under])
    raise not_found()


async def create_ref(request: Request) -> Response:
    repo, _ = state_of(request).repo(request, write=True)
    data = await body(request)
    ref, sha = field(data, "ref", str), field(data, "sha", str)
    repo.require_content()
    if not ref.startswith("refs/heads/") or ref.count("/") < 2 or ref.endswith("/"):
        raise invalid("Reference name is not valid")
    if not repo.has(sha, Commit):
        raise invalid("Object does not exist")
    branch = ref.removeprefix("refs/heads/")
    repo.create_ref(branch, sha)
    return answer(request, shapes.ref(urls(request), repo.meta.full_name, branch, sha), 201)


async def update_ref(request: Request) -> Response:
    repo, _ = state_of(request).repo(request, write=True)
    branch = _branch(request.path_params["ref"])
    data = await body(request)
    sha = field(data, "sha", str)
    repo.require_content()
    if not repo.has(sha, Commit):
        raise invalid("Object does not exist")
    repo.update_ref(branch, sha, force=bool(data.get("force", False)))
    return answer(request, shapes.ref(urls(request), repo.meta.full_name, branch, sha))


async def get_commit(request: Request) -> Response:
    repo, _ = state_of(request).repo(request)
    repo.require_content()
    commit = repo.get_commit(request.path_params["sha"])
    return answer(request, shapes.git_commit(urls(request), repo.meta.full_name, commit))


async def create_commit(request: Request) -> Response:
    repo, login = state_of(request).repo(request, write=True)
    data = await body(request)
    message, tree = field(data, "message", str), field(data, "tree", str)
    parents = data.get("parents") or []
    repo.require_content()
    if not repo.has(tree, Tree):
        raise invalid("Tree SHA does not exist")
    if not isinstance(parents, list) or not all(
        isinstance(p, str) and repo.has(p, Commit) for p in parents
    ):
        raise invalid("Parent SHA does not exist or is not a commit object")
    author = _person(data.get("author"), person(login))
    committer = _person(data.get("committer"), author)
    sha = repo.add_commit(message, tree, parents, author, committer)
    shape = shapes.git_commit(urls(request), repo.meta.full_name, repo.get_commit(sha))
    return answer(request, shape, 201)


def _person(given: Any, default: Person) -> Person:
    if not given:
        return default
    if not isinstance(given, dict) or not all(
        isinstance(given.get(k), str) for k in ("name", "email")
    ):
        raise invalid('Invalid request.\n\n"name", "email" weren\'t supplied.')
    when = default.time
    if given.get("date"):
        try:
            when = int(datetime.fromisoformat(given["date"]).timestamp())
        except (TypeError, ValueError):
            raise invalid(f"{given['date']} is not a valid date-time") from None
    return Person(given["name"], given["email"], when)


async def get_tree(request: Request) -> Response:
    """Any ``recursive`` value recurses (even 0), as on GitHub; above ``max_tree_entries`` a
    recursive listing is cut short with ``truncated: true``."""
    state = state_of(request)
    repo, _ = state.repo(request)
    repo.require_content()
    sha = repo.tree_of(request.path_params["sha"])
    recursive = "recursive" in request.query_params
    walked = repo.walk(sha, recursive=recursive)
    limit = state.limits.max_tree_entries
    entries = list(itertools.islice(walked, limit + 1)) if recursive else list(walked)
    truncated = recursive and len(entries) > limit
    u, full = urls(request), repo.meta.full_name
    items = [shapes.tree_entry(u, full, e) for e in entries[: limit if truncated else None]]
    return answer(request, shapes.tree(u, full, sha, items, truncated))


async def create_tree(request: Request) -> Response:
    state = state_of(request)
    repo, _ = state.repo(request, write=True)
    raw_body = await request.body()
    data = await body(request)
    repo.require_content()
    limit = state.limits.max_tree_bytes
    if limit is not None and len(raw_body) > limit:
        raise invalid(TOO_LARGE)
    entries = field(data, "tree", list)
    base = data.get("base_tree")
    base_tree = None
    if base is not None:
        try:
            base_tree = repo.tree_of(str(base))
        except ApiError:
            raise invalid(f"base_tree {base} is not a valid tree") from None
    sha = repo.add_tree(changes(repo, entries), base_tree)
    u, full = urls(request), repo.meta.full_name
    items = [shapes.tree_entry(u, full, e) for e in repo.walk(sha, recursive=False)]
    return answer(request, shapes.tree(u, full, sha, items, False), 201)


async def get_blob(request: Request) -> Response:
    """Base64 JSON with line breaks, or the bytes themselves for the raw media type."""
    repo, _ = state_of(request).repo(request)
    repo.require_content()
    sha = request.path_params["sha"]
    data = repo.get(sha, Blob).as_raw_string()
    accept = request.headers.get("accept", "")
    if any(t in accept for t in RAW_TYPES):
        return raw(request, data, "application/vnd.github.raw")
    return answer(request, shapes.blob(urls(request), repo.meta.full_name, sha, data))


async def create_blob(request: Request) -> Response:
    repo, _ = state_of(request).repo(request, write=True)
    data = await body(request)
    content = field(data, "content", str)
    encoding = data.get("encoding", "utf-8")
    repo.require_content()
    if encoding == "base64":
        try:
            payload = base64.b64decode(content)
        except (binascii.Error, ValueError):
            raise invalid("content is not valid Base64") from None
    elif encoding in ("utf-8", "utf8"):
        payload = content.encode()
    else:
        raise invalid(f"encoding {encoding} is not supported; use utf-8 or base64")
    sha = repo.add_blob(payload)
    return answer(
        request,
        {"url": f"{urls(request).repo(repo.meta.full_name)}/git/blobs/{sha}", "sha": sha},
        201,
    )


BASE = "/repos/{owner}/{repo}/git"
ROUTES = [
    Route(BASE + "/ref/{ref:path}", get_ref, methods=["GET"]),
    Route(BASE + "/refs/{ref:path}", get_ref, methods=["GET"]),
    Route(BASE + "/refs", create_ref, methods=["POST"]),
    Route(BASE + "/refs/{ref:path}", update_ref, methods=["PATCH"]),
    Route(BASE + "/commits/{sha}", get_commit, methods=["GET"]),
    Route(BASE + "/commits", create_commit, methods=["POST"]),
    Route(BASE + "/trees/{sha:path}", get_tree, methods=["GET"]),
    Route(BASE + "/trees", create_tree, methods=["POST"]),
    Route(BASE + "/blobs/{sha}", get_blob, methods=["GET"]),
    Route(BASE + "/blobs", create_blob, methods=["POST"]),
]
