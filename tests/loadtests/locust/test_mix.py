import random

import pytest

from loadtests.locust.mix import DAYS, ENDPOINT_NAMES, TASK_MIX, mix_shares, operation_for, task_body


def test_the_mix_is_the_apps_traffic():
    assert mix_shares(TASK_MIX) == {"list": 0.60, "get": 0.15, "create": 0.10, "update": 0.10, "delete": 0.05}
    assert set(ENDPOINT_NAMES) == set(TASK_MIX)


def test_mix_shares_refuses_nonsense():
    with pytest.raises(ValueError, match="positive sum"):
        mix_shares({"list": 0})
    with pytest.raises(ValueError, match="non-negative"):
        mix_shares({"list": 5, "get": -1})


@pytest.mark.parametrize("wanted", ["get", "update", "delete"])
def test_a_user_without_tasks_creates_one_instead(wanted):
    assert operation_for(wanted, known_ids=0) == "create"
    assert operation_for(wanted, known_ids=3) == wanted


def test_list_and_create_need_no_task():
    assert operation_for("list", 0) == "list"
    assert operation_for("create", 0) == "create"


def test_task_bodies_are_valid_tasks():
    rng = random.Random(7)
    for serial in range(200):
        body = task_body(rng, serial)
        assert 1 <= len(body["name"].strip()) <= 60
        assert 0 <= body["hour"] <= 23
        assert 0 <= body["minute"] <= 59
        days = body["executionDays"].split(",")
        assert days
        assert len(set(days)) == len(days)
        assert days == sorted(days, key=DAYS.index)  # week order, as the API normalizes
        assert ("deviceId" in body) == ("deviceOperation" in body)
        assert body.get("deviceOperation", "ACTIVATE") in {"ACTIVATE", "DEACTIVATE"}
        assert set(body) <= {
            "name", "description", "hour", "minute", "executionDays", "status", "deviceId", "deviceOperation",
        }  # fmt: skip


def test_task_bodies_are_reproducible_with_a_seed():
    assert task_body(random.Random(1), 5) == task_body(random.Random(1), 5)
