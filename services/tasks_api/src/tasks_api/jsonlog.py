"""Structured logs: JSON lines on stderr, and the access record written once per request. Never a token or
a secret."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _json_string  # type: ignore[attr-defined]
from typing import Any

ACCESS = logging.getLogger("tasks_api.access")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
# One encoder for every line: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record, AccessRecord) and len(vars(record)) == ACCESS_RECORD_SIZE:
            return self._access_line(record)
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)

    def _access_line(self, record: AccessRecord) -> str:
        """The same line as the general path above writes for this record (a test holds them equal), at a
        fifth of its cost: it is written once per request."""
        return (
            f'{{"time":"{self._time(record.created)}","level":"INFO","logger":"{record.name}",'
            f'"message":"request","method":{_json_string(record.method)},"route":{_json_string(record.route)},'
            f'"status":{int(record.status)},"duration_ms":{float(record.duration_ms)!r},'
            f'"request_id":{_json_string(record.request_id)}}}'
        )

    def _time(self, created: float) -> str:
        """ISO 8601 in UTC to the millisecond; the date and time of day are formatted once a second."""
        second = int(created)
        micros = round((created - second) * 1e6)  # as datetime.fromtimestamp rounds
        if micros == 1_000_000:
            second, micros = second + 1, 0
        if second != self._second:
            stamp = datetime.fromtimestamp(second, UTC).isoformat()
            self._second, self._second_text = second, stamp.removesuffix("+00:00")
        return f"{self._second_text}.{micros // 1000:03d}+00:00"


class AccessRecord(logging.LogRecord):
    """The access line's record, built for the cost of a dict copy: it is written once per request, and a
    LogRecord's constructor (caller lookup, thread and process names) cost more than the request itself.

    It has every attribute a record has (formatters read them from the instance's dict), the fixed ones
    copied from ``_ACCESS_COMMON``, then the time and the request's fields in the order the line shows
    them."""

    def __init__(self, method: str, route: str, status: int, duration_ms: float, request_id: str) -> None:
        attributes = self.__dict__
        attributes.update(_ACCESS_COMMON)
        created = time.time()
        attributes["created"] = created
        attributes["msecs"] = int((created - int(created)) * 1000) + 0.0
        attributes["relativeCreated"] = (created - _STARTED) * 1000
        self.method = method
        self.route = route
        self.status = status
        self.duration_ms = duration_ms
        self.request_id = request_id


_PROBE = logging.makeLogRecord({})
_STARTED = _PROBE.created - _PROBE.relativeCreated / 1000  # logging's own start time
_ACCESS_COMMON: dict[str, Any] = {
    **dict.fromkeys(vars(_PROBE)),
    "name": ACCESS.name,
    "msg": "request",
    "args": (),
    "levelname": "INFO",
    "levelno": logging.INFO,
    "pathname": __file__,
    "filename": "jsonlog.py",
    "module": "jsonlog",
    "lineno": 0,
    "funcName": "log_access",
}
for _timing in ("created", "msecs", "relativeCreated"):
    del _ACCESS_COMMON[_timing]
# The number of attributes an access record has: one with more (a filter added some) takes the general path.
ACCESS_RECORD_SIZE = len(_ACCESS_COMMON) + 8


def log_access(method: str, route: str, status: int, duration_ms: float, request_id: str) -> None:
    if ACCESS.isEnabledFor(logging.INFO):
        ACCESS.handle(AccessRecord(method, route, status, duration_ms, request_id))


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "granian", "granian.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The access line of log_access replaces uvicorn's (which would log full query strings).
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic narrates every migration context (the readiness probe opens one per call).
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))
