"""The paging cursor, one codec for every list: the last row's keyset position as a URL-safe token.

A cursor is the position's values as a compact JSON array, base64url without padding. It is opaque to
clients, but not secret: every query it feeds is scoped to the caller anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

Key = int | str


class PageQuery(BaseModel):
    """A paged list's query string; a list with filters extends it."""

    model_config = ConfigDict(extra="ignore")

    limit: int | None = Field(default=None, ge=1, description="Page size (default 100, at most 500)")
    cursor: str | None = Field(default=None, max_length=200, description="From the previous page's Link")


def next_page_link(path: str, query: PageQuery, cursor: str, size: int) -> str:
    """The ``Link`` header of the page after this one: ``path``, the query's filters as they were read (by
    their names on the wire; parameters the list does not know are not carried on), the next cursor and the
    page size."""
    filters = query.model_dump(by_alias=True, exclude_none=True, exclude={"cursor", "limit"}, mode="json")
    following = f"cursor={cursor}&limit={size}"  # both URL-safe as they are
    if filters:
        following = f"{urlencode(filters)}&{following}"
    return f'<{path}?{following}>; rel="next"'


class InvalidCursorError(ValueError):
    """The paging cursor was not produced by this API."""


def encode_cursor(position: Sequence[Key]) -> str:
    # Written directly rather than through json.dumps of the list: a list page writes one per response.
    raw = "[" + ",".join(str(v) if isinstance(v, int) else json.dumps(v) for v in position) + "]"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str, kinds: Sequence[type[Key]]) -> tuple[Key, ...]:
    """The position in ``text``, one value of each of ``kinds`` (``int`` or ``str``) in order."""
    try:
        position = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError) as exc:  # not base64, not UTF-8, not JSON
        raise InvalidCursorError(text) from exc
    if not isinstance(position, list) or len(position) != len(kinds):
        raise InvalidCursorError(text)
    for value, kind in zip(position, kinds, strict=True):
        # bool is an int to Python, never to a cursor.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidCursorError(text)
    return tuple(position)
