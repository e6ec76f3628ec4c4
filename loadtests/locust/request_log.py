"""One JSON line per API request of a Locust run (``LOAD_REQUEST_LOG=path``), for accounting by time window.

Each line: ``t`` (start, epoch s), ``dt`` (s), ``method``, ``op`` (the endpoint name), ``status`` (0: no
HTTP answer), ``failed``, ``error`` (the failure text), ``server`` (HAProxy's ``X-Served-By``), ``id`` (the
task id: the created one for a 201, the one in the path otherwise). Sign-ins are not API requests and are
left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from loadtests.rollout.haproxy import SERVED_BY

_TASK_ID = re.compile(r"/api/tasks/(\d+)")


@dataclass(frozen=True)
class RequestRecord:
    t: float
    dt: float
    method: str
    op: str
    status: int
    failed: bool
    error: str | None
    server: str | None
    id: int | None

    @property
    def end(self) -> float:
        return self.t + self.dt


def task_id_of(method: str, status: int, url: str, response: Any) -> int | None:
    if method == "POST" and status == 201:
        try:
            return int(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            return None
    found = _TASK_ID.search(url or "")
    return int(found.group(1)) if found else None


class RequestLog:
    """A Locust ``request`` listener writing one line per request, line-buffered (a killed run keeps its
    lines)."""

    def __init__(self, path: Path) -> None:
        self._out: IO[str] = path.open("a", buffering=1)

    def __call__(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        url: str | None = None,
        **_: Any,
    ) -> None:
        if response is None or request_type == "AUTH" or start_time is None:
            return
        status = int(getattr(response, "status_code", 0) or 0)
        headers = getattr(response, "headers", None) or {}
        line = {
            "t": round(start_time, 4),
            "dt": round(response_time / 1000.0, 4),
            "method": request_type,
            "op": name,
            "status": status,
            "failed": exception is not None,
            "error": None if exception is None else str(exception)[:200],
            "server": headers.get(SERVED_BY),
            "id": task_id_of(request_type, status, url or "", response),
        }
        self._out.write(json.dumps(line, separators=(",", ":")) + "\n")


def read(path: Path) -> list[RequestRecord]:
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            records.append(RequestRecord(**json.loads(line)))
    return records
