"""What a simulated user does, and how often: the real app's mix of calls and the bodies it sends."""

from __future__ import annotations

import random
from typing import Any

# Share of each call in the app's traffic, in percent (the task list screen dominates).
TASK_MIX: dict[str, int] = {"list": 60, "get": 15, "create": 10, "update": 10, "delete": 5}

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")

# Names of the endpoints in Locust's statistics: one line per route template and operation.
ENDPOINT_NAMES: dict[str, str] = {
    "list": "GET /api/tasks",
    "get": "GET /api/tasks/{id}",
    "create": "POST /api/tasks",
    "update": "PUT /api/tasks/{id}",
    "delete": "DELETE /api/tasks/{id}",
}


def mix_shares(weights: dict[str, int]) -> dict[str, float]:
    total = sum(weights.values())
    if total <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("weights must be non-negative with a positive sum")
    return {name: w / total for name, w in weights.items()}


def operation_for(wanted: str, known_ids: int) -> str:
    """The call to make when ``wanted`` was drawn: a user with no task yet creates one instead."""
    if wanted in {"get", "update", "delete"} and known_ids == 0:
        return "create"
    return wanted


def task_body(rng: random.Random, serial: int) -> dict[str, Any]:
    """A valid task as the app's form sends it (camelCase, executionDays as a comma list)."""
    days = sorted(rng.sample(range(7), rng.randint(1, 7)))
    body: dict[str, Any] = {
        "name": f"load task {serial}",
        "description": "created by the load test",
        "hour": rng.randint(0, 23),
        "minute": rng.randint(0, 59),
        "executionDays": ",".join(DAYS[d] for d in days),
        "status": "ACT",
    }
    if rng.random() < 0.5:
        body["deviceId"] = f"device-{rng.randint(1, 999)}"
        body["deviceOperation"] = rng.choice(("ACTIVATE", "DEACTIVATE"))
    return body
