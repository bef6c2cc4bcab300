"""`/api/github/...`: connect the workspace to a repository and branch, and look around GitHub
with the connected token or GitHub App (repositories, branches, the branch's history).

``configure`` and ``validate`` take ``{"token"}`` or ``{"app_id", "private_key",
"installation_id"?}``; ``config`` says which (``auth``) and never returns either secret. The
listings ``GET /repositories`` and ``GET /branches`` use the stored credential; their ``POST``
twins take one in the body, used for that call only, so a first connection can pick its
repository and branch from a list.

Every call but ``config`` and ``disconnect`` asks GitHub: its refusals come back as 404 (no such
repository or branch), 409 (not connected), 422 (a bad token, or one that may not push) and 503
(GitHub unreachable or rate-limited), each with a message that says what to do and never the token.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.schemas import (
    AppFields,
    BranchesRequest,
    BranchPage,
    CommitPage,
    ConfigureRequest,
    CreateRepositoryRequest,
    GitHubConfig,
    GitHubRepository,
    GitHubViewer,
    RepositoriesRequest,
    RepositoryPage,
    ValidateRequest,
)
from bifrost.github.app_auth import AppCredentials

router = APIRouter(prefix="/api/github", tags=["github"])

Page = Query(1, ge=1, le=100_000, description="1 is the first page")


@router.get("/config", response_model=GitHubConfig)
async def config(svc: Services = Depends(services)) -> GitHubConfig:
    return GitHubConfig.model_validate(await svc.github.config())


@router.post(
    "/validate", response_model=GitHubViewer, responses=error_responses(400, 413, 422, 503)
)
async def validate(body: ValidateRequest, svc: Services = Depends(services)) -> GitHubViewer:
    return GitHubViewer.model_validate(await svc.github.validate(body.token, app=_app(body)))


@router.post(
    "/configure",
    response_model=GitHubConfig,
    responses=error_responses(400, 404, 413, 422, 503),
)
async def configure(
    body: ConfigureRequest, svc: Services = Depends(services), user: str = Depends(require_token)
) -> GitHubConfig:
    connected = await svc.github.configure(
        body.repository, body.branch, body.token, user, app=_app(body)
    )
    return GitHubConfig.model_validate(connected)


def _app(body: AppFields) -> AppCredentials | None:
    """The request's GitHub App, when it names one instead of a token."""
    if body.app_id is None or body.private_key is None:
        return None
    return AppCredentials(str(body.app_id), body.private_key, body.installation_id)


@router.get(
    "/repositories", response_model=RepositoryPage, responses=error_responses(409, 422, 503)
)
async def repositories(
    page: int = Page,
    per_page: int = Query(50, ge=1, le=100),
    svc: Services = Depends(services),
) -> RepositoryPage:
    found = await svc.github.repositories(page=page, per_page=per_page)
    return RepositoryPage.model_validate(found)


@router.post(
    "/repositories",
    response_model=RepositoryPage,
    responses=error_responses(400, 404, 409, 413, 422, 503),
)
async def repositories_with(
    body: RepositoriesRequest, svc: Services = Depends(services)
) -> RepositoryPage:
    found = await svc.github.repositories(
        page=body.page, per_page=body.per_page, token=body.token, app=_app(body)
    )
    return RepositoryPage.model_validate(found)


@router.get("/branches", response_model=BranchPage, responses=error_responses(404, 409, 422, 503))
async def branches(
    repository: str = Query(max_length=140, description="owner/name"),
    page: int = Page,
    svc: Services = Depends(services),
) -> BranchPage:
    return BranchPage.model_validate(await svc.github.branches(repository, page=page))


@router.post(
    "/branches", response_model=BranchPage, responses=error_responses(400, 404, 409, 413, 422, 503)
)
async def branches_with(body: BranchesRequest, svc: Services = Depends(services)) -> BranchPage:
    found = await svc.github.branches(
        body.repository, page=body.page, token=body.token, app=_app(body)
    )
    return BranchPage.model_validate(found)


@router.post(
    "/create-repository",
    status_code=201,
    response_model=GitHubRepository,
    responses=error_responses(400, 409, 413, 422, 503),
)
async def create_repository(
    body: CreateRepositoryRequest, svc: Services = Depends(services)
) -> GitHubRepository:
    created = await svc.github.create_repository(
        body.name, private=body.private, description=body.description, token=body.token
    )
    return GitHubRepository.model_validate(created)


@router.post("/disconnect", response_model=GitHubConfig)
async def disconnect(svc: Services = Depends(services)) -> GitHubConfig:
    return GitHubConfig.model_validate(await svc.github.disconnect())


@router.get("/commits", response_model=CommitPage, responses=error_responses(404, 409, 422, 503))
async def commits(
    page: int = Page,
    per_page: int = Query(30, ge=1, le=100),
    svc: Services = Depends(services),
) -> CommitPage:
    return CommitPage.model_validate(await svc.github.commits(page=page, per_page=per_page))
