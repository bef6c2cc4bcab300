"""`POST /api/github/webhook`: GitHub's push deliveries (no bearer token: GitHub calls it).

Every delivery must carry ``X-Hub-Signature-256`` made with ``BIFROST_GITHUB_WEBHOOK_SECRET``;
without a secret configured, or with a missing or wrong signature, the answer is 401 and nothing
happens. ``ping`` (sent when the webhook is created) answers 200; a ``push`` to the connected
repository and branch wakes automatic sync (``bifrost.sync.webhook``) and answers 202.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from bifrost.api.deps import Services, services
from bifrost.api.errors import error, error_responses
from bifrost.sync import webhook

router = APIRouter(prefix="/api/github", tags=["github"])


ACCEPTED = {202: {"description": "A push: automatic sync woken, or the push ignored (why)"}}


@router.post("/webhook", responses={**ACCEPTED, **error_responses(401, 413, 422)})
async def github_webhook(request: Request, svc: Services = Depends(services)) -> Any:
    body = await request.body()
    try:
        webhook.verify(svc.settings, body, request.headers.get("x-hub-signature-256"))
    except webhook.BadSignature as exc:
        return error(401, exc.reason)
    event = request.headers.get("x-github-event", "")
    if event == "ping":
        return {"ok": True, "event": "ping"}
    if event != "push":
        return {"ok": True, "event": event, "synced": False, "reason": "only push is acted on"}
    push = webhook.payload(body)
    if not svc.settings.sync_auto:
        outcome = {"synced": False, "reason": "automatic sync is off (BIFROST_SYNC_AUTO)"}
    else:
        outcome = await webhook.on_push(svc.db, svc.events, push)
    return JSONResponse({"ok": True, "event": "push", **outcome}, status_code=202)
