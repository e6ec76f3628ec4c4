"""The LoadTestShape classes, ticked with a controlled run time in a child interpreter."""

import pytest

from tests.loadtests.locust.isolated import run_isolated

# Every shape's tick() at chosen run times, computed in one child interpreter (Locust patches gevent in).
TICKS = """
import json, time
from loadtests.locust.shapes import shape_class
cases = {cases!r}
out = {{}}
for key, (name, env, times) in cases.items():
    shape = shape_class(name)(env=env)
    seq = []
    for t in times:
        shape.start_time = time.perf_counter() - t  # LoadTestShape measures run time from start_time
        tick = shape.tick()
        seq.append(None if tick is None else [tick[0], round(tick[1], 3)])
    out[key] = seq
print(json.dumps(out))
"""

CASES = {
    "steady": (
        "steady",
        {"LOAD_USERS": "7", "LOAD_SPAWN_RATE": "2", "LOAD_DURATION": "30"},
        [0, 15, 29.5, 30.5],
    ),
    "step": (
        "step",
        {
            "LOAD_ENV": "sandbox",
            "LOAD_MIN_TASKS": "1",
            "LOAD_MAX_TASKS": "2",
            "LOAD_SCALE_OUT_COOLDOWN_S": "60",
            "LOAD_REQUESTS_PER_TARGET": "1000",
            "LOAD_SPAWN_RATE": "4",
        },
        [1, 239, 241, 479, 481, 719, 721],
    ),
    "spike": (
        "spike",
        {
            "LOAD_USERS": "5",
            "LOAD_SPIKE_USERS": "25",
            "LOAD_SPIKE_BASE_S": "10",
            "LOAD_SPIKE_S": "5",
            "LOAD_SPIKE_RECOVER_S": "10",
            "LOAD_SPAWN_RATE": "1",
        },
        [0, 10.5, 16, 26],
    ),
    "soak": (
        "soak",
        {"LOAD_USERS": "20", "LOAD_SPAWN_RATE": "0.5", "LOAD_SOAK_RAMP_S": "40", "LOAD_DURATION": "7200"},
        [0, 100, 7239, 7241],
    ),
}


@pytest.fixture(scope="module")
def ticks():
    return run_isolated(TICKS.format(cases=CASES))


def test_steady_ticks_then_stops(ticks):
    assert ticks["steady"] == [[7, 2.0], [7, 2.0], [7, 2.0], None]


def test_step_ticks_follow_the_environment_config(ticks):
    assert ticks["step"] == [[43, 4.0], [43, 4.0], [85, 4.0], [85, 4.0], [128, 4.0], [128, 4.0], None]


def test_spike_ticks(ticks):
    assert ticks["spike"] == [[5, 1.0], [25, 20.0], [5, 20.0], None]


def test_soak_ticks(ticks):
    assert ticks["soak"] == [[20, 0.5], [20, 0.5], [20, 0.5], None]


def test_the_locustfile_exposes_the_chosen_shape_and_the_weighted_mix(tmp_path):
    result = run_isolated(
        """
        import json
        from collections import Counter
        from locust.util.load_locustfile import load_locustfile
        users, shapes = load_locustfile("loadtests/locust/locustfile.py")
        person = users["PersonUser"]
        counts = Counter(t.__name__ for t in person.tasks)
        print(json.dumps({"users": sorted(users), "shapes": [type(s).__name__ for s in shapes],
                          "counts": counts}))
        """,
        env={"LOAD_SHAPE": "spike"},
    )
    assert result["users"] == ["PersonUser"]  # machine users only when a client_credentials client is set
    assert result["shapes"] == ["SpikeShape"]
    assert result["counts"] == {
        "list_tasks": 60,
        "get_task": 15,
        "create_task": 10,
        "update_task": 10,
        "delete_task": 5,
    }


def test_the_locustfile_adds_machine_users_when_configured():
    result = run_isolated(
        """
        import json
        from locust.util.load_locustfile import load_locustfile
        users, shapes = load_locustfile("loadtests/locust/locustfile.py")
        machine = users["MachineUser"]
        print(json.dumps({"users": sorted(users), "weight": machine.weight, "shapes": len(shapes)}))
        """,
        env={"LOAD_M2M_CLIENT_ID": "machine", "LOAD_M2M_WEIGHT": "3", "LOAD_SHAPE": ""},
    )
    assert result == {"users": ["MachineUser", "PersonUser"], "weight": 3, "shapes": 0}
