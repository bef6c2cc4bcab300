"""`/api/github/...`: connect the workspace to a repository and branch, and look around GitHub
with the connected token (repositories, branches, the branch's history).

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
    BranchPage,
    CommitPage,
    ConfigureRequest,
    CreateRepositoryRequest,
    GitHubConfig,
    GitHubRepository,
    GitHubViewer,
    RepositoryPage,
    ValidateRequest,
)

router = APIRouter(prefix="/api/github", tags=["github"])

Page = Query(1, ge=1, le=100_000, description="1 is the first page")


@router.get("/config", response_model=GitHubConfig)
async def config(svc: Services = Depends(services)) -> GitHubConfig:
    return GitHubConfig.model_validate(await svc.github.config())


@router.post(
    "/validate", response_model=GitHubViewer, responses=error_responses(400, 413, 422, 503)
)
async def validate(body: ValidateRequest, svc: Services = Depends(services)) -> GitHubViewer:
    return GitHubViewer.model_validate(await svc.github.validate(body.token))


@router.post(
    "/configure",
    response_model=GitHubConfig,
    responses=error_responses(400, 404, 413, 422, 503),
)
async def configure(
    body: ConfigureRequest, svc: Services = Depends(services), user: str = Depends(require_token)
) -> GitHubConfig:
    connected = await svc.github.configure(body.repository, body.branch, body.token, user)
    return GitHubConfig.model_validate(connected)


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


@router.get("/branches", response_model=BranchPage, responses=error_responses(404, 409, 422, 503))
async def branches(
    repository: str = Query(max_length=140, description="owner/name"),
    page: int = Page,
    svc: Services = Depends(services),
) -> BranchPage:
    return BranchPage.model_validate(await svc.github.branches(repository, page=page))


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
