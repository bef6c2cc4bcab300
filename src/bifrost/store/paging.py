"""Keyset pagination: one page of an ordered listing, and an opaque cursor to the next.

A page ends where its last row's sort key is, and the next one starts strictly after that key, so
rows written or deleted between two requests never make a listing repeat a row or skip one that
existed throughout (an offset would do both). The cursor is base64url of ``[kind, *key]``: opaque
to clients, tied to one listing, and checked on the way in, so a tampered one is bad input (422),
never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bifrost.errors import InvalidInput

T = TypeVar("T")
MAX_CURSOR_CHARS = 4096  # a key is a path (at most 1,000 characters) and a name, or a time and id


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None: this was the last page


@dataclass(frozen=True)
class Order:
    """A listing's sort: unique key columns, all ascending or all descending (one index scan)."""

    kind: str  # names the listing inside its cursors, so one listing's cursor fails on another
    columns: tuple[InstrumentedAttribute[Any], ...]
    descending: bool = False


def _plain(value: Any) -> Any:
    """A key value as JSON: times in UTC with their offset (SQLite hands them back naive)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def encode(order: Order, key: Sequence[Any]) -> str:
    raw = json.dumps([order.kind, *(_plain(v) for v in key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(order: Order, cursor: str) -> list[Any]:
    """The key a cursor holds, each value of its column's type; InvalidInput otherwise."""
    bad = InvalidInput(
        "cursor is not one this listing gave out: pass next_cursor from the previous page "
        "unchanged, or leave it out to start from the first page"
    )
    if len(cursor) > MAX_CURSOR_CHARS:
        raise bad
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise bad from None
    if not isinstance(decoded, list) or decoded[:1] != [order.kind]:
        raise bad
    values = decoded[1:]
    if len(values) != len(order.columns) or not all(isinstance(v, str) for v in values):
        raise bad
    key: list[Any] = []
    for column, value in zip(order.columns, values, strict=True):
        if column.type.python_type is datetime:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise bad from None
            if moment.tzinfo is None:
                raise bad
            value = moment.astimezone(UTC)
        key.append(value)
    return key


async def fetch_page(
    session: AsyncSession, query: Select[Any], order: Order, *, cursor: str | None, limit: int
) -> Page[Any]:
    """``limit`` rows of ``query`` after ``cursor`` in ``order``, and the cursor after them.

    One extra row is read to know whether another page follows, so the last page says so itself
    (``next_cursor`` None) instead of costing the client one more, empty request."""
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, not {limit}")
    columns = order.columns
    if cursor is not None:
        key = [
            bindparam(None, value, type_=column.type)
            for column, value in zip(columns, decode(order, cursor), strict=True)
        ]
        left, right = tuple_(*columns), tuple_(*key)  # a row value comparison: one index range
        query = query.where(left < right if order.descending else left > right)
    sort = [c.desc() for c in columns] if order.descending else list(columns)
    rows = list(await session.scalars(query.order_by(*sort).limit(limit + 1)))
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    return Page(rows[:limit], encode(order, [getattr(last, c.key) for c in columns]))
