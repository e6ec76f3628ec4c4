"""Schemathesis against the API's own /openapi.json on a real server, with a real token: no server errors
and no response outside the documented schema, on every operation (positive and negative inputs)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, checks

from tests.reliability.served import ServedApi, api_env, migrate, task_body
from tests.support.postgres import ThrowawayPostgres
from tests.support.tokens import JwksServer, TokenFactory

EXAMPLES_PER_OPERATION = 80  # bounded so the whole module stays well under 90 s on a busy 2-core machine
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_api(postgres_server: ThrowawayPostgres, jwks_server: JwksServer) -> Iterator[ServedApi]:
    url = postgres_server.create_database()
    env = api_env(url, jwks_server.issuer)
    migrate(env)
    api = ServedApi(env).start()
    try:
        yield api
    finally:
        api.stop()
        postgres_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def fuzz_headers(fuzzed_api: ServedApi, tokens: TokenFactory) -> dict[str, str]:
    headers = tokens.bearer("fuzz-user")
    # A few real tasks, so that some generated ids hit a row of the caller's own.
    with httpx.Client(base_url=fuzzed_api.base_url, timeout=10) as client:
        for i in range(5):
            assert client.post("/api/tasks", json=task_body(f"seed {i}"), headers=headers).status_code == 201
    return headers


@pytest.fixture(scope="module")
def api_schema(fuzzed_api: ServedApi) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(fuzzed_api.base_url + "/openapi.json")


VALID_DAYS = ["MON", "tue,sun", "MON,WED,FRI", "sat,SAT,fri"]


def _steer(drawn: tuple[Case, str, bool]) -> Case:
    case, days, steer = drawn
    if steer and isinstance(case.body, dict):
        if "executionDays" in case.body:
            case.body["executionDays"] = days
        if "timeZone" in case.body:
            case.body["timeZone"] = "UTC"
        if "executeUntil" in case.body:
            case.body["executeUntil"] = None
    return case


def _fuzz(operation, mode: GenerationMode, headers: dict[str, str], statuses: Counter[int]) -> None:
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        # The schema cannot say "a subset of MON..SUN" or "an IANA zone", so random strings almost never pass
        # validation; steer most bodies to valid values so the fuzzer reaches the database too (negative mode
        # still sends random ones).
        steer = st.integers(0, 3).map(bool)
        strategy = st.tuples(strategy, st.sampled_from(VALID_DAYS), steer).map(_steer)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=10)
        statuses[response.status_code] += 1

    run()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_every_operation_keeps_its_documented_contract(
    api_schema: schemathesis.BaseSchema, fuzz_headers: dict[str, str]
) -> None:
    failures: list[str] = []
    labels: list[str] = []
    statuses: Counter[int] = Counter()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, fuzz_headers, statuses)
            except Unsatisfiable:
                continue  # an operation without parameters or body has no invalid input to send
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    print(
        f"\nfuzz: {sum(statuses.values())} requests over {len(labels)} operations, "
        f"statuses {dict(sorted(statuses.items()))}: {', '.join(labels)}"
    )
    assert "POST /api/tasks" in labels
    assert len(labels) >= 10
    assert not failures, "\n\n".join(failures)
    assert statuses[200]
    assert statuses[201]
    assert statuses[422]
