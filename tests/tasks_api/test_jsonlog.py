"""The JSON log lines: the access record's quick path writes exactly what the general formatter writes."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime

from tasks_api.jsonlog import ACCESS, AccessRecord, JsonFormatter


def _general_record(created: float, **fields: object) -> logging.LogRecord:
    record = ACCESS.makeRecord(ACCESS.name, logging.INFO, __file__, 1, "request", (), None, extra=fields)
    record.created = created
    return record


def test_the_access_line_equals_the_general_format() -> None:
    formatter = JsonFormatter()
    fields = {
        "method": "GET",
        "route": '/api/tasks/{task_id}?"é\n',
        "status": 201,
        "duration_ms": 12.34,
        "request_id": "req-42",
    }
    quick = AccessRecord(**fields)  # type: ignore[arg-type]
    general = _general_record(quick.created, **fields)
    assert formatter.format(quick) == formatter.format(general)
    assert json.loads(formatter.format(quick))["route"] == fields["route"]


def test_an_access_record_with_added_attributes_keeps_them() -> None:
    record = AccessRecord("GET", "/health/live", 200, 0.5, "abc")
    record.tenant = "city"  # e.g. set by a logging filter
    assert json.loads(JsonFormatter().format(record))["tenant"] == "city"


def test_times_are_iso_8601_utc_milliseconds_as_datetime_writes_them() -> None:
    formatter = JsonFormatter()
    rng = random.Random(7)
    stamps = [1_700_000_000.9999996, 1_700_000_000.0, 1_700_000_000.0005, 1_800_000_000.123456]
    stamps += [rng.uniform(1.6e9, 2.0e9) for _ in range(2000)]
    for created in stamps:
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert formatter._time(created) == expected, created


def test_an_access_record_reads_like_any_record_to_other_formatters() -> None:
    line = logging.Formatter("%(levelname)s %(name)s:%(filename)s:%(lineno)d %(message)s %(route)s").format(
        AccessRecord("GET", "/health/live", 200, 0.5, "abc")
    )
    assert line == "INFO tasks_api.access:jsonlog.py:0 request /health/live"
