"""GitHub's account and repository endpoints: the viewer, listing, creating, branches, commits,
the contents PUT that makes a first commit, and the tarball."""

from __future__ import annotations

import base64
import binascii
import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bifrost.testing.fake_github import shapes
from bifrost.testing.fake_github.answers import (
    answer,
    body,
    field,
    link,
    page_params,
    paginate,
    urls,
)
from bifrost.testing.fake_github.errors import ApiError, invalid, not_found
from bifrost.testing.fake_github.repo import FILE_MODE, GitRepo, Person, invalid_name, kind_of
from bifrost.testing.fake_github.state import can_push, state_of
from bifrost.testing.fake_github.tree_input import check_path

NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
SORT_KEYS = {"created": "created_at", "updated": "updated_at", "pushed": "pushed_at"}


def person(login: str) -> Person:
    return Person(login.title(), f"{login}@users.noreply.github.com")


async def get_user(request: Request) -> Response:
    login = state_of(request).login(request)
    return answer(
        request,
        shapes.viewer(urls(request), login),
        headers={"x-oauth-scopes": state_of(request).scopes},
    )


async def list_repos(request: Request) -> Response:
    state = state_of(request)
    login = state.login(request)
    mine = [r for r in state.store.all() if can_push(r, login)]
    sort = request.query_params.get("sort", "full_name")
    key = SORT_KEYS.get(sort, "full_name")
    direction = request.query_params.get("direction", "desc" if sort in SORT_KEYS else "asc")
    mine.sort(key=lambda r: (getattr(r.meta, key) or "").lower(), reverse=direction == "desc")
    chunk, headers = paginate(request, mine)
    u = urls(request)
    return answer(
        request, [shapes.repository(u, r.meta, can_push=True) for r in chunk], headers=headers
    )


async def create_user_repo(request: Request) -> Response:
    login = state_of(request).login(request)
    return await _create(request, login, "User")


async def create_org_repo(request: Request) -> Response:
    state_of(request).login(request)
    return await _create(request, request.path_params["org"], "Organization")


async def _create(request: Request, owner: str, owner_type: str) -> Response:
    data = await body(request)
    name = field(data, "name", str)
    if not NAME.match(name) or name in (".", ".."):
        raise invalid_name("name is invalid")
    repo = state_of(request).store.create(
        owner,
        name,
        owner_type=owner_type,
        private=bool(data.get("private", False)),
        description=str(data.get("description") or ""),
    )
    if data.get("auto_init"):
        readme = f"# {name}\n\n{repo.meta.description}\n".encode()
        repo.commit_files(
            repo.meta.default_branch,
            {"README.md": (FILE_MODE, readme)},
            "Initial commit",
            person(owner),
        )
    return answer(request, shapes.repository(urls(request), repo.meta, can_push=True), 201)


async def get_repo(request: Request) -> Response:
    state = state_of(request)
    repo, _ = state.repo(request)
    pushes = state.caller(request).can_push(repo)
    return answer(request, shapes.repository(urls(request), repo.meta, can_push=pushes))


async def list_branches(request: Request) -> Response:
    repo, _ = state_of(request).repo(request)
    chunk, headers = paginate(request, list(repo.heads().items()))
    u, full = urls(request), repo.meta.full_name
    return answer(request, [shapes.branch_item(u, full, n, s) for n, s in chunk], headers=headers)


async def get_branch(request: Request) -> Response:
    repo, _ = state_of(request).repo(request)
    name = request.path_params["branch"]
    sha = repo.head(name)
    if sha is None:
        raise not_found("Branch not found")
    return answer(request, shapes.branch(urls(request), repo, name, repo.get_commit(sha)))


async def list_commits(request: Request) -> Response:
    repo, _ = state_of(request).repo(request)
    repo.require_content()
    ref = request.query_params.get("sha") or repo.meta.default_branch
    start = repo.resolve(ref)
    if start is None:
        raise not_found(f"No commit found for SHA: {ref}")
    page, per_page = page_params(request)
    commits, more = repo.log(start, skip=(page - 1) * per_page, limit=per_page)
    u, full = urls(request), repo.meta.full_name
    return answer(
        request,
        [shapes.commit_item(u, full, c) for c in commits],
        headers=link(request, page, has_next=more),
    )


async def put_contents(request: Request) -> Response:
    """Create or update one file in one commit; on an empty repository this makes the first
    commit and the branch (the only way GitHub allows)."""
    repo, login = state_of(request).repo(request, write=True)
    path = check_path(request.path_params["path"])
    data = await body(request)
    message = field(data, "message", str)
    try:
        content = base64.b64decode(field(data, "content", str), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("content is not valid Base64") from None
    branch = data.get("branch") or repo.meta.default_branch
    with repo.lock:
        head = repo.head(branch)
        if head is None and not repo.is_empty():
            raise not_found(f"Branch {branch} not found")
        existing = repo.lookup(head, path) if head else None
        if existing is not None and kind_of(existing[0]) != "blob":
            raise invalid(f"{path} is a directory")
        if existing is not None and data.get("sha") is None:
            raise invalid('Invalid request.\n\n"sha" wasn\'t supplied.')
        if existing is not None and data["sha"] != existing[1]:
            raise ApiError(409, f"{path} does not match {data['sha']}")
        mode = existing[0] if existing else FILE_MODE
        sha = repo.commit_files(branch, {path: (mode, content)}, message, person(login))
    blob_sha = repo.lookup(sha, path)[1]
    shape = shapes.contents_put(
        urls(request),
        repo.meta.full_name,
        path,
        blob_sha,
        len(content),
        repo.get_commit(sha),
        branch,
    )
    return answer(request, shape, 200 if existing else 201)


async def tarball(request: Request) -> Response:
    """302 to a codeload-like URL, as GitHub answers; the archive itself needs no token."""
    repo, _ = state_of(request).repo(request)
    sha = _archived_commit(repo, request.path_params.get("ref") or repo.meta.default_branch)
    location = f"{urls(request).web}/_codeload/{repo.meta.full_name}/legacy.tar.gz/{sha}"
    return RedirectResponse(location, 302)


async def codeload(request: Request) -> Response:
    p = request.path_params
    repo = state_of(request).store.get(f"{p['owner']}/{p['repo']}")
    if repo is None:
        raise not_found()
    sha = _archived_commit(repo, p["ref"])
    name = f"{repo.meta.owner}-{repo.meta.name}-{sha[:7]}.tar.gz"
    return Response(
        repo.tarball(sha),
        media_type="application/x-gzip",
        headers={"content-disposition": f"attachment; filename={name}"},
    )


def _archived_commit(repo: GitRepo, ref: str) -> str:
    sha = None if repo.is_empty() else repo.resolve(ref)
    if sha is None:
        raise not_found()
    return sha


ROUTES = [
    Route("/user", get_user, methods=["GET"]),
    Route("/user/repos", list_repos, methods=["GET"]),
    Route("/user/repos", create_user_repo, methods=["POST"]),
    Route("/orgs/{org}/repos", create_org_repo, methods=["POST"]),
    Route("/repos/{owner}/{repo}", get_repo, methods=["GET"]),
    Route("/repos/{owner}/{repo}/branches", list_branches, methods=["GET"]),
    Route("/repos/{owner}/{repo}/branches/{branch:path}", get_branch, methods=["GET"]),
    Route("/repos/{owner}/{repo}/commits", list_commits, methods=["GET"]),
    Route("/repos/{owner}/{repo}/contents/{path:path}", put_contents, methods=["PUT"]),
    Route("/repos/{owner}/{repo}/tarball", tarball, methods=["GET"]),
    Route("/repos/{owner}/{repo}/tarball/{ref:path}", tarball, methods=["GET"]),
]
CODELOAD = Route("/_codeload/{owner}/{repo}/legacy.tar.gz/{ref:path}", codeload, methods=["GET"])
