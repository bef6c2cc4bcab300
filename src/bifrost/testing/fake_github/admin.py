"""The control API under /_fake/ (no GitHub token): what a test or a user does to the fake from
outside GitHub's API — a teammate's commits, faults, races, the request log, limits."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bifrost.testing.fake_github import shapes
from bifrost.testing.fake_github.answers import answer, body, field, urls
from bifrost.testing.fake_github.errors import invalid, not_found
from bifrost.testing.fake_github.repo import FILE_MODE, MODES, TEAMMATE, FileChange, GitRepo, Person
from bifrost.testing.fake_github.state import state_of


def _repo(request: Request, full_name: str) -> GitRepo:
    repo = state_of(request).store.get(full_name)
    if repo is None:
        raise not_found(f"no repository {full_name}")
    return repo


def parse_files(spec: Any) -> dict[str, FileChange]:
    """``{path: {"text" | "base64", "mode"} | null}`` -> path -> (mode, bytes) or None."""
    if not isinstance(spec, dict):
        raise invalid("files must be an object {path: {text|base64, mode} | null}")
    out: dict[str, FileChange] = {}
    for path, value in spec.items():
        if value is None:
            out[path] = None
            continue
        try:
            mode = int(str(value.get("mode", f"{FILE_MODE:o}")), 8)
            data = (
                base64.b64decode(value["base64"], validate=True)
                if "base64" in value
                else str(value["text"]).encode()
            )
        except (AttributeError, KeyError, ValueError, binascii.Error):
            raise invalid(f"{path}: give text or base64, and a git mode") from None
        if mode not in MODES:
            raise invalid(f"{path}: mode {mode:o} is not a git file mode")
        out[path] = (mode, data)
    return out


async def create_repo(request: Request) -> Response:
    state = state_of(request)
    data = await body(request)
    owner, _, name = field(data, "full_name", str).partition("/")
    if not owner or not name:
        raise invalid("full_name must be owner/name")
    is_user = owner.lower() in {login.lower() for login in state.tokens.values()}
    repo = state.store.create(
        owner,
        name,
        owner_type=data.get("owner_type") or ("User" if is_user else "Organization"),
        private=bool(data.get("private", True)),
        description=str(data.get("description") or ""),
        default_branch=data.get("default_branch") or "main",
    )
    return answer(request, shapes.repository(urls(request), repo.meta, can_push=True), 201)


async def commit(request: Request) -> Response:
    data = await body(request)
    repo = _repo(request, field(data, "full_name", str))
    author = data.get("author") or {}
    who = Person(author.get("name", TEAMMATE.name), author.get("email", TEAMMATE.email))
    sha = repo.commit_files(
        data.get("branch") or repo.meta.default_branch,
        parse_files(data.get("files")),
        data.get("message") or "A teammate's change",
        who,
    )
    return answer(request, {"sha": sha}, 201)


async def files(request: Request) -> Response:
    repo = _repo(request, request.query_params.get("full_name", ""))
    if repo.is_empty():
        return answer(request, {})
    ref = request.query_params.get("ref") or repo.meta.default_branch
    sha = repo.resolve(ref)
    if sha is None:
        raise not_found(f"no branch or commit {ref}")
    return answer(
        request,
        {
            path: {"mode": f"{mode:06o}", "sha": blob, "base64": base64.b64encode(data).decode()}
            for path, (mode, blob, data) in repo.snapshot(sha).items()
        },
    )


async def add_fault(request: Request) -> Response:
    try:
        fault = state_of(request).faults.add(await body(request))
    except ValueError as exc:  # a bad regex or field
        raise invalid(str(exc)) from None
    return answer(request, {"id": fault.id}, 201)


async def clear_faults(request: Request) -> Response:
    state_of(request).faults.rules.clear()
    return Response(status_code=204)


async def release(request: Request) -> Response:
    return answer(request, {"released": state_of(request).faults.release()})


async def race(request: Request) -> Response:
    data = await body(request)
    repo = _repo(request, field(data, "full_name", str))
    branch = data.get("branch") or repo.meta.default_branch
    with repo.lock:
        repo.races[branch] = (
            parse_files(data.get("files")),
            data.get("message") or "A teammate's change",
        )
    return answer(request, {"armed": True}, 201)


async def requests(request: Request) -> Response:
    log = state_of(request).faults.log
    return answer(request, [dict(entry) for entry in log])


async def reset_requests(request: Request) -> Response:
    state_of(request).faults.log.clear()
    return Response(status_code=204)


async def register_app(request: Request) -> Response:
    data = await body(request)
    app = state_of(request).apps.register(
        field(data, "public_key", str),
        slug=str(data.get("slug") or "bifrost-sync"),
        owner=str(data.get("owner") or "octocat"),
    )
    return answer(request, {"id": app.id, "slug": app.slug}, 201)


async def install_app(request: Request) -> Response:
    data = await body(request)
    repositories = data.get("repositories")
    permissions = data.get("permissions")
    if repositories is not None and not (
        isinstance(repositories, list) and all(isinstance(r, str) for r in repositories)
    ):
        raise invalid("repositories must be a list of owner/name, or null for all of them")
    if permissions is not None and not isinstance(permissions, dict):
        raise invalid('permissions must be an object such as {"contents": "write"}')
    installation = state_of(request).apps.install(
        field(data, "app_id", int), field(data, "account", str), repositories, permissions
    )
    return answer(request, {"id": installation.id}, 201)


async def configure(request: Request) -> Response:
    state = state_of(request)
    limits = state.limits
    data = await body(request)
    if "installation_token_lifetime_s" in data:
        lifetime = data["installation_token_lifetime_s"]
        if not isinstance(lifetime, int | float) or lifetime <= 0:
            raise invalid("installation_token_lifetime_s must be a positive number of seconds")
        state.apps.token_lifetime_s = float(lifetime)
    for name in ("max_tree_entries", "max_tree_bytes"):
        if name in data:
            value = data[name]
            if value is not None and (not isinstance(value, int) or value < 1):
                raise invalid(f"{name} must be a positive integer or null")
            if name == "max_tree_entries" and value is None:
                raise invalid("max_tree_entries must be a positive integer")
            setattr(limits, name, value)
    return answer(
        request,
        {
            "max_tree_entries": limits.max_tree_entries,
            "max_tree_bytes": limits.max_tree_bytes,
            "installation_token_lifetime_s": state.apps.token_lifetime_s,
        },
    )


ROUTES = [
    Route("/_fake/repos", create_repo, methods=["POST"]),
    Route("/_fake/commit", commit, methods=["POST"]),
    Route("/_fake/files", files, methods=["GET"]),
    Route("/_fake/faults", add_fault, methods=["POST"]),
    Route("/_fake/faults", clear_faults, methods=["DELETE"]),
    Route("/_fake/release", release, methods=["POST"]),
    Route("/_fake/race", race, methods=["POST"]),
    Route("/_fake/requests", requests, methods=["GET"]),
    Route("/_fake/requests", reset_requests, methods=["DELETE"]),
    Route("/_fake/config", configure, methods=["POST"]),
    Route("/_fake/apps", register_app, methods=["POST"]),
    Route("/_fake/installations", install_app, methods=["POST"]),
]
