"""How the fake reads requests and writes answers: JSON bodies, ETags, Link pagination."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from bifrost.testing.fake_github.errors import ApiError, missing_field
from bifrost.testing.fake_github.shapes import Urls

T = TypeVar("T")
JSON_TYPE = "application/json; charset=utf-8"


def urls(request: Request) -> Urls:
    web = str(request.base_url).rstrip("/")
    api = web + "/api/v3" if request.url.path.startswith("/api/v3/") else web
    return Urls(api=api, web=web)


async def body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ApiError(400, "Problems parsing JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Problems parsing JSON")
    return data


def field(data: dict[str, Any], name: str, kind: type[T]) -> T:
    """A required field of a request body, of the given JSON type (422 otherwise)."""
    value = data.get(name)
    if value is None:
        raise missing_field(name)
    if not isinstance(value, kind):
        raise ApiError(422, f'Invalid request.\n\nInvalid property "{name}".')
    return value


def error(exc: ApiError) -> Response:
    return Response(json.dumps(exc.body()), exc.status, media_type=JSON_TYPE)


def answer(request: Request, data: Any, status: int = 200, headers: dict | None = None) -> Response:
    """JSON; a GET carries a weak ETag and answers 304 to a matching ``If-None-Match``."""
    content = json.dumps(data).encode()
    return raw(request, content, JSON_TYPE, status, headers)


def raw(
    request: Request,
    content: bytes,
    media_type: str,
    status: int = 200,
    headers: dict | None = None,
) -> Response:
    headers = dict(headers or {})
    if request.method == "GET" and status == 200:
        tag = f'W/"{hashlib.sha256(content).hexdigest()}"'
        headers["etag"] = tag
        headers["cache-control"] = "private, max-age=60, s-maxage=60"
        if _matches(request.headers.get("if-none-match"), tag):
            return Response(status_code=304, headers=headers)
    return Response(content, status, headers=headers, media_type=media_type)


def _matches(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    wanted = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in wanted or tag.removeprefix("W/") in wanted


def page_params(request: Request) -> tuple[int, int]:
    try:
        page = max(1, int(request.query_params.get("page", "1")))
        per_page = min(100, max(1, int(request.query_params.get("per_page", "30"))))
    except ValueError:
        raise ApiError(422, "Invalid page or per_page") from None
    return page, per_page


def link(request: Request, page: int, *, has_next: bool, last: int | None = None) -> dict:
    """A ``link`` header as GitHub writes it (next, last, first, prev); {} for a single page."""
    rels: list[tuple[str, int]] = []
    if has_next:
        rels.append(("next", page + 1))
        if last is not None:
            rels.append(("last", last))
    if page > 1:
        rels += [("first", 1), ("prev", page - 1)]
    if not rels:
        return {}
    parts = [f'<{request.url.include_query_params(page=n)}>; rel="{rel}"' for rel, n in rels]
    return {"link": ", ".join(parts)}


def paginate(request: Request, items: Sequence[T]) -> tuple[list[T], dict]:
    page, per_page = page_params(request)
    last = max(1, -(-len(items) // per_page))
    chunk = list(items[(page - 1) * per_page : page * per_page])
    return chunk, link(request, page, has_next=page < last, last=last)
