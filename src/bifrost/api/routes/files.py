"""`/api/files`: the workspace as raw bytes in and out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request, Response

from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.paging import CURSOR, limit_param
from bifrost.api.schemas import (
    DeleteResponse,
    FileInfo,
    FilePage,
    RenameRequest,
    WorkflowInfo,
    WriteResponse,
)
from bifrost.errors import Conflict
from bifrost.store.files import ANY, EXISTS, Expected, WriteResult

router = APIRouter(prefix="/api/files", tags=["files"])

RAW_CONTENT = {
    "description": "The file's bytes, with its stored content type",
    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    "headers": {
        "ETag": {
            "description": '"<sha256>": send it back in If-Match',
            "schema": {"type": "string"},
        }
    },
}


def _written(result: WriteResult) -> WriteResponse:
    return WriteResponse(
        file=FileInfo.model_validate(result.file),
        generation=result.generation,
        changed=result.changed,
        workflows=[WorkflowInfo.model_validate(w) for w in result.workflows],
    )


def expected_from(if_match: str | None, if_none_match: str | None) -> Expected:
    """The compare-and-swap an If-Match header asks for (RFC 9110 section 13.1.1).

    ``*`` means "the file exists"; a list of entity tags means "its hash is one of these". A weak
    tag (``W/"..."``) never matches, since If-Match uses the strong comparison. Without If-Match,
    ``If-None-Match: *`` means "only if the file does not exist yet"."""
    if if_match is None:
        return None if (if_none_match or "").strip() == "*" else ANY
    if if_match.strip() == "*":
        return EXISTS
    tags = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    strong = frozenset(tag[1:-1] for tag in tags if len(tag) >= 2 and tag[0] == tag[-1] == '"')
    if not strong:
        raise Conflict(
            f"If-Match {if_match[:80]!r} names no strong entity tag: send the ETag exactly as "
            'GET returned it ("<sha256>", in double quotes), or * for "if the file exists"; '
            "weak tags (W/...) never match"
        )
    return strong


@router.get("", response_model=FilePage, responses=error_responses(422))
async def list_files(
    prefix: str = "",
    limit: int = limit_param(500),
    cursor: str | None = CURSOR,
    svc: Services = Depends(services),
) -> FilePage:
    """Live files by path, one page at a time."""
    return FilePage.model_validate(await svc.files.page(prefix, cursor=cursor, limit=limit))


@router.post("/rename", response_model=WriteResponse, responses=error_responses(400, 404, 409, 413))
async def rename_file(
    body: RenameRequest, svc: Services = Depends(services), user: str = Depends(require_token)
) -> WriteResponse:
    return _written(await svc.files.rename(body.old_path, body.new_path, user=user))


@router.put(
    "/{path:path}",
    response_model=WriteResponse,
    responses=error_responses(409, 413),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        }
    },
)
async def put_file(
    path: str,
    request: Request,
    if_match: str | None = Header(
        None, description='"<sha256>" from the ETag (compare-and-swap), or * (only if it exists)'
    ),
    if_none_match: str | None = Header(None, description="* (only if it does not exist yet)"),
    svc: Services = Depends(services),
    user: str = Depends(require_token),
) -> WriteResponse:
    expected = expected_from(if_match, if_none_match)
    content = await request.body()  # bounded by the guard (BIFROST_MAX_FILE_BYTES)
    return _written(await svc.files.write(path, content, user=user, expected_hash=expected))


@router.get(
    "/{path:path}",
    response_class=Response,
    responses={200: RAW_CONTENT, **error_responses(404)},
)
async def get_file(path: str, svc: Services = Depends(services)) -> Response:
    row, content = await svc.files.read(path)
    return Response(
        content,
        media_type=row.content_type,
        headers={"ETag": f'"{row.content_hash}"', "X-Bifrost-Generation": str(row.generation)},
    )


@router.delete("/{path:path}", response_model=DeleteResponse, responses=error_responses(404))
async def delete_file(
    path: str, svc: Services = Depends(services), user: str = Depends(require_token)
) -> DeleteResponse:
    generation = await svc.files.delete(path, user=user)
    return DeleteResponse(path=path, generation=generation)
