"""GitHub's App endpoints: the app itself, its installations (all of them, or the one on a
repository), minting an installation token (all with the app's JWT), and the repositories an
installation token can see."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bifrost.testing.fake_github import shapes
from bifrost.testing.fake_github.answers import answer, body, paginate, urls
from bifrost.testing.fake_github.apps import NO_INTEGRATION_ACCESS, App, Installation, iso
from bifrost.testing.fake_github.errors import ApiError, invalid, not_found
from bifrost.testing.fake_github.state import state_of


def _app(request: Request) -> App:
    return state_of(request).apps.authenticate(request.headers.get("authorization", ""))


def _selection(installation: Installation) -> str:
    return "all" if installation.repositories is None else "selected"


def _installation(request: Request, installation: Installation) -> dict:
    u = urls(request)
    return {
        "id": installation.id,
        "account": shapes.user(u, installation.account),
        "app_id": installation.app.id,
        "app_slug": installation.app.slug,
        "target_type": "User",
        "repository_selection": _selection(installation),
        "permissions": dict(installation.permissions),
        "access_tokens_url": f"{u.api}/app/installations/{installation.id}/access_tokens",
        "html_url": f"{u.web}/settings/installations/{installation.id}",
    }


async def get_app(request: Request) -> Response:
    app = _app(request)
    u = urls(request)
    return answer(
        request,
        {
            "id": app.id,
            "slug": app.slug,
            "name": app.slug.replace("-", " ").title(),
            "owner": shapes.user(u, app.owner),
            "html_url": f"{u.web}/apps/{app.slug}",
        },
    )


async def app_installations(request: Request) -> Response:
    """GitHub's ``GET /app/installations``: a bare JSON list, oldest first, paginated."""
    app = _app(request)
    mine = [i for i in state_of(request).apps.installations.values() if i.app.id == app.id]
    chunk, headers = paginate(request, mine)
    return answer(request, [_installation(request, i) for i in chunk], headers=headers)


async def repo_installation(request: Request) -> Response:
    app = _app(request)
    p = request.path_params
    full_name = f"{p['owner']}/{p['repo']}"
    repo = state_of(request).store.get(full_name)
    if repo is None:
        raise not_found()
    found = state_of(request).apps.installation_for(app, repo.meta.owner, repo.meta.full_name)
    return answer(request, _installation(request, found))


async def access_tokens(request: Request) -> Response:
    app = _app(request)
    try:
        installation_id = int(request.path_params["installation_id"])
    except ValueError:
        raise not_found() from None
    data = await body(request)
    if "repositories" in data or "permissions" in data:
        raise invalid("this fake mints tokens for the whole installation only")
    token, minted = state_of(request).apps.mint(app, installation_id)
    installation = minted.installation
    shaped: dict = {
        "token": token,
        "expires_at": iso(minted.expires_at),
        "permissions": dict(installation.permissions),
        "repository_selection": _selection(installation),
    }
    if installation.repositories is not None:
        store = state_of(request).store
        repos = [store.get(name) for name in installation.repositories]
        shaped["repositories"] = [
            shapes.repository(urls(request), r.meta, can_push=installation.can_write)
            for r in repos
            if r is not None
        ]
    return answer(request, shaped, 201)


async def installation_repositories(request: Request) -> Response:
    caller = state_of(request).caller(request)
    if caller.installation is None:
        raise ApiError(403, NO_INTEGRATION_ACCESS.replace("integration", "personal access token"))
    seen = [
        r
        for r in state_of(request).store.all()
        if caller.installation.covers(r.meta.owner, r.meta.full_name)
    ]
    seen.sort(key=lambda r: r.meta.full_name.lower())
    chunk, headers = paginate(request, seen)
    u = urls(request)
    items = [shapes.repository(u, r.meta, can_push=caller.installation.can_write) for r in chunk]
    return answer(
        request,
        {
            "total_count": len(seen),
            "repository_selection": _selection(caller.installation),
            "repositories": items,
        },
        headers=headers,
    )


ROUTES = [
    Route("/app", get_app, methods=["GET"]),
    Route("/app/installations", app_installations, methods=["GET"]),
    Route("/repos/{owner}/{repo}/installation", repo_installation, methods=["GET"]),
    Route("/app/installations/{installation_id}/access_tokens", access_tokens, methods=["POST"]),
    Route("/installation/repositories", installation_repositories, methods=["GET"]),
]
