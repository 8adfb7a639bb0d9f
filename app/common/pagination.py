"""Keyset pagination: opaque cursors over (sort key..., id), so pages never skip or repeat."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from app.common.crypto import SecretBox
from app.common.scope import current_work
from app.errors import InvalidCursor

T = TypeVar("T")
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
SortKey = ColumnElement[Any] | QueryableAttribute[Any]
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageParams:
    """`?limit=` and `?cursor=` as one dependency."""

    def __init__(
        self,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1 to 200.")
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None, Query(max_length=2048, description="next_cursor from the previous page.")
        ] = None,
    ) -> None:
        self.limit = limit
        self.cursor = cursor


Pagination = Annotated[PageParams, Depends()]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(value["t"])
    if isinstance(value, dict) and "u" in value:
        return uuid.UUID(value["u"])
    if isinstance(value, str | int | float) or value is None:
        return value
    raise ValueError("unexpected cursor value")


def _cursor_box() -> SecretBox | None:
    """The unit of work's key: cursors are sealed, since a sort key can be a client's name and
    cursors travel in URLs (proxies and browsers log those), and so cannot be forged."""
    work = current_work.get()
    return work.cursor_box if work is not None else None


def encode_cursor(values: Sequence[Any]) -> str:
    """An opaque, URL-safe cursor for the position after `values`."""
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    box = _cursor_box()
    if box is not None:
        return box.seal_bytes(raw).decode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unwrap(cursor: str) -> bytes:
    box = _cursor_box()
    if box is not None:
        return box.open_bytes(cursor.encode())
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """Decode a cursor made by encode_cursor; anything else is a 422 invalid_cursor."""
    try:
        values = json.loads(_unwrap(cursor))
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("wrong arity")
        return [_decode_value(v) for v in values]
    except (binascii.Error, ValueError, UnicodeDecodeError, TypeError, RuntimeError) as exc:
        raise InvalidCursor("The cursor is malformed or belongs to another list.") from exc


def _check_type(value: Any, column: SortKey) -> None:
    """A cursor value must fit its column, or binding it would fail inside the database."""
    try:
        expected = column.type.python_type
    except NotImplementedError:
        return
    aware = not isinstance(value, datetime) or value.tzinfo is not None
    if isinstance(value, bool) or not isinstance(value, expected) or not aware:
        raise InvalidCursor("The cursor belongs to another list.")


def keyset(
    stmt: SelectT, order: Sequence[SortKey], page: PageParams, *, descending: bool = False
) -> SelectT:
    """Order by `order` (every key ascending, or with `descending` every key descending),
    resume after the cursor and fetch one extra row to detect a next page."""
    if page.cursor is not None:
        after = decode_cursor(page.cursor, len(order))
        for value, column in zip(after, order, strict=True):
            _check_type(value, column)
        bound = [
            literal(value, type_=column.type) for value, column in zip(after, order, strict=True)
        ]
        keys, position = tuple_(*order), tuple_(*bound)
        stmt = stmt.where(keys < position if descending else keys > position)
    if descending:
        return stmt.order_by(*(key.desc() for key in order)).limit(page.limit + 1)
    return stmt.order_by(*order).limit(page.limit + 1)


def split_page(
    rows: Sequence[T], page: PageParams, position: Callable[[T], Sequence[Any]]
) -> tuple[list[T], str | None]:
    """The rows of this page and the cursor for the next one, if any."""
    items = list(rows[: page.limit])
    more = len(rows) > page.limit
    return items, encode_cursor(position(items[-1])) if more and items else None
