"""`/api/files`: the workspace as raw bytes in and out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request, Response

from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.schemas import DeleteResponse, FileInfo, RenameRequest, WorkflowInfo, WriteResponse
from bifrost.errors import UserError
from bifrost.store.files import ANY, WriteResult

router = APIRouter(prefix="/api/files", tags=["files"])


def _written(result: WriteResult) -> WriteResponse:
    return WriteResponse(
        file=FileInfo.model_validate(result.file),
        generation=result.generation,
        changed=result.changed,
        workflows=[WorkflowInfo.model_validate(w) for w in result.workflows],
    )


@router.get("", response_model=list[FileInfo])
async def list_files(prefix: str = "", svc: Services = Depends(services)) -> list[FileInfo]:
    return [FileInfo.model_validate(row) for row in await svc.files.list(prefix)]


@router.post("/rename", response_model=WriteResponse)
async def rename_file(
    body: RenameRequest, svc: Services = Depends(services), user: str = Depends(require_token)
) -> WriteResponse:
    return _written(await svc.files.rename(body.old_path, body.new_path, user=user))


@router.put("/{path:path}", response_model=WriteResponse)
async def put_file(
    path: str,
    request: Request,
    if_match: str | None = Header(None, description='"<sha256>" from the ETag: compare-and-swap'),
    svc: Services = Depends(services),
    user: str = Depends(require_token),
) -> WriteResponse:
    expected = ANY if if_match is None else (if_match.strip().strip('"') or None)
    content = await _body(request, svc)
    return _written(await svc.files.write(path, content, user=user, expected_hash=expected))


async def _body(request: Request, svc: Services) -> bytes:
    """Read the upload, refusing it as soon as it is larger than any file may be."""
    limit = svc.settings.max_file_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UserError(f"the file is {int(declared):,} bytes; the limit is {limit:,} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UserError(f"the file is over the limit of {limit:,} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


@router.get("/{path:path}")
async def get_file(path: str, svc: Services = Depends(services)) -> Response:
    row, content = await svc.files.read(path)
    return Response(
        content,
        media_type=row.content_type,
        headers={"ETag": f'"{row.content_hash}"', "X-Bifrost-Generation": str(row.generation)},
    )


@router.delete("/{path:path}", response_model=DeleteResponse)
async def delete_file(
    path: str, svc: Services = Depends(services), user: str = Depends(require_token)
) -> DeleteResponse:
    generation = await svc.files.delete(path, user=user)
    return DeleteResponse(path=path, generation=generation)
