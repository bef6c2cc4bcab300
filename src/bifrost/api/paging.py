"""The query parameters every paged listing takes, so the three listings agree on them."""

from __future__ import annotations

from fastapi import Query

MAX_LIMIT = 1000


def limit_param(default: int) -> int:
    """``?limit=``: rows per page, 1 to MAX_LIMIT; outside it the request is refused (422)."""
    return Query(default, ge=1, le=MAX_LIMIT, description=f"Rows per page, 1 to {MAX_LIMIT}")


CURSOR = Query(
    None,
    description="next_cursor of the previous page, unchanged; leave it out for the first page",
)
