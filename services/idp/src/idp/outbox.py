"""The local outbox: every code and temporary password the IdP "sends", kept instead of mail and SMS.

Read it with `GET /_local/outbox?to=EMAIL` or `idp outbox [--to EMAIL]`; newest first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from idp.store import OutboxMessage, Store

log = logging.getLogger("idp")

KINDS = ("signup", "forgot_password", "verify_attribute", "temporary_password")
MAX_LISTED = 200


class Outbox:
    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def send(self, to: str, kind: str, code: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown outbox kind {kind}")
        with self._store.begin() as db:
            db.add(OutboxMessage(to=to.lower(), kind=kind, code=code, created_at=self._clock()))
        # The log line stands in for the e-mail, as before the outbox existed (tests and people read it).
        log.info("outbox: %s code for %s is %s (local delivery; Cognito would e-mail it)", kind, to, code)

    def messages(self, to: str | None = None, limit: int = MAX_LISTED) -> list[dict[str, Any]]:
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if to:
            query = query.where(OutboxMessage.to == to.strip().lower())
        with self._store.read() as db:
            rows = db.scalars(query).all()
            return [
                {
                    "to": row.to,
                    "kind": row.kind,
                    "code": row.code,
                    "createdAt": datetime.fromtimestamp(row.created_at, UTC).isoformat(),
                }
                for row in rows
            ]
