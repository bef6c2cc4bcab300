"""`/api/forms`, `/api/agents`, `/api/apps`: forms, agents and apps, which are workspace files.

Every write goes through the files' unit of work (``Files.apply``): one transaction, one
generation bump, the file's base SHA kept as for any file, so they sync with no code of their
own. A definition sent here is validated first (422 naming the bad field) and written in its
canonical bytes; the rows read back are the index the unit of work keeps over the files.
``POST /api/forms/{id}/submit`` checks the answers against the form and runs its workflow,
answering exactly as ``POST /api/workflows/{id}/execute``.
"""

# No `from __future__ import annotations`: FastAPI reads each route's body model from the
# annotations of the functions the factory below makes, which must be real classes.

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bifrost.api.auth import require_token
from bifrost.api.deps import Services, services
from bifrost.api.errors import error_responses
from bifrost.api.paging import CURSOR, limit_param
from bifrost.api.routes.workflows import EXECUTE_RESPONSES, run
from bifrost.api.schemas import (
    DeleteResponse,
    EntityDetail,
    EntityPage,
    EntityRefInfo,
    ExecutionInfo,
    SubmitRequest,
)
from bifrost.errors import Conflict, Inconsistent
from bifrost.store import entities
from bifrost.store.files import EXISTS, Write
from bifrost.store.models import Entity
from bifrost.workspace.entity_schemas import (
    FOLDERS,
    MODELS,
    SUFFIXES,
    canonical,
    check_submission,
)

PLURALS = {"form": "forms", "agent": "agents", "app": "apps"}


async def _detail(svc: Services, row: Entity) -> EntityDetail:
    refs = await entities.refs_of(svc.db, row.id)
    return EntityDetail.model_validate(
        {
            **{key: getattr(row, key) for key in EntityDetail.model_fields if key != "refs"},
            "refs": [EntityRefInfo.model_validate(ref) for ref in refs],
        }
    )


async def _written(svc: Services, path: str) -> EntityDetail:
    row = await entities.by_path(svc.db, path)
    if row is None:  # the unit of work writes the row with the file
        raise Inconsistent(f"{path} was written but has no entity row")
    return await _detail(svc, row)


def entity_router(kind: str) -> APIRouter:
    """The five routes of one kind, its body validated by that kind's model."""
    plural = PLURALS[kind]
    model: type[BaseModel] = MODELS[kind]
    router = APIRouter(prefix=f"/api/{plural}", tags=[plural])

    @router.get("", response_model=EntityPage, responses=error_responses(422))
    async def list_entities(
        limit: int = limit_param(500),
        cursor: str | None = CURSOR,
        svc: Services = Depends(services),
    ) -> EntityPage:
        return EntityPage.model_validate(
            await entities.listed(svc.db, kind, cursor=cursor, limit=limit)
        )

    @router.get("/{entity_id}", response_model=EntityDetail, responses=error_responses(404))
    async def get_entity(entity_id: str, svc: Services = Depends(services)) -> EntityDetail:
        return await _detail(svc, await entities.get(svc.db, kind, entity_id))

    @router.post(
        "",
        status_code=201,
        response_model=EntityDetail,
        responses=error_responses(400, 409, 413, 422),
    )
    async def create_entity(
        definition: model,  # type: ignore[valid-type]
        svc: Services = Depends(services),
        user: str = Depends(require_token),
    ) -> EntityDetail:
        path = f"{FOLDERS[kind]}/{definition.name}{SUFFIXES[kind]}"
        try:
            await svc.files.apply([Write(path, canonical(definition), None)], user=user)
        except Conflict as exc:
            if "already exists" not in exc.message:
                raise
            raise Conflict(
                f"{path} already exists: choose another name, or update that {kind} "
                f"(PUT /api/{plural}/{{id}})"
            ) from exc
        return await _written(svc, path)

    @router.put(
        "/{entity_id}",
        response_model=EntityDetail,
        responses=error_responses(400, 404, 409, 413, 422),
    )
    async def update_entity(
        entity_id: str,
        definition: model,  # type: ignore[valid-type]
        svc: Services = Depends(services),
        user: str = Depends(require_token),
    ) -> EntityDetail:
        """Replace the definition; the file keeps its path whatever the new name."""
        row = await entities.get(svc.db, kind, entity_id)
        await svc.files.apply([Write(row.path, canonical(definition), EXISTS)], user=user)
        return await _written(svc, row.path)

    @router.delete("/{entity_id}", response_model=DeleteResponse, responses=error_responses(404))
    async def delete_entity(
        entity_id: str, svc: Services = Depends(services), user: str = Depends(require_token)
    ) -> DeleteResponse:
        row = await entities.get(svc.db, kind, entity_id)
        generation = await svc.files.delete(row.path, user=user)
        return DeleteResponse(path=row.path, generation=generation)

    return router


forms = entity_router("form")
agents = entity_router("agent")
apps = entity_router("app")


@forms.post("/{entity_id}/submit", response_model=ExecutionInfo, responses=EXECUTE_RESPONSES)
async def submit_form(
    entity_id: str, body: SubmitRequest, svc: Services = Depends(services)
) -> ExecutionInfo | JSONResponse:
    """Check the answers against the form's fields (required, types, options) and run its
    workflow with them as parameters."""
    form = await entities.get(svc.db, "form", entity_id)
    if form.definition is None:
        raise Conflict(f"the form {form.path} is invalid ({form.invalid}); fix its file first")
    target = form.definition["workflow"]
    workflow_id = await entities.workflow_of(svc.db, form.id, target)
    if workflow_id is None:
        raise Conflict(
            f"the form {form.path} runs {target}, which is no workflow: restore that function "
            "or point the form at another workflow"
        )
    parameters = check_submission(form.definition, body.fields)
    return await run(svc, workflow_id, parameters, wait=body.wait)  # an inactive one: 409
