"""The list body: the tasks' JSON documents (written by the database, see ``statements``) as one array."""

from __future__ import annotations

from collections.abc import Sequence


def list_document(items: Sequence[str]) -> bytes:
    return ("[" + ",".join(items) + "]").encode()
