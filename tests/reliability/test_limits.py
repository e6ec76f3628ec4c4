"""OWASP API4 limits on the real server, each set by its setting: body size (413), page size (422), per-user
write rate (429 + Retry-After), and slow clients (a dribbled head is cut off, a dribbled body gets 408)."""

from __future__ import annotations

import json
import select
import socket
import time

import httpx
import pytest

from tests.reliability.served import ServedApi, task_body
from tests.support.tokens import TokenFactory

MAX_BODY = 2048
PAGE_MAX = 20
WRITES_PER_MINUTE = 5
HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5


@pytest.fixture
def limited_api(postgres_url: str, serve_api) -> ServedApi:
    return serve_api(
        postgres_url,
        MAX_BODY_BYTES=str(MAX_BODY),
        PAGE_LIMIT_MAX=str(PAGE_MAX),
        WRITE_RATE_PER_MINUTE=str(WRITES_PER_MINUTE),
        REQUEST_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        REQUEST_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
    )


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return body


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_every_limit_holds_at_its_configured_value(limited_api: ServedApi, tokens: TokenFactory) -> None:
    alice, bob = tokens.bearer("limits-alice"), tokens.bearer("limits-bob")
    with httpx.Client(base_url=limited_api.base_url, timeout=10) as client:
        # Body size, declared and chunked.
        big = task_body(description="x" * 200, executionCommand="y" * 200, name="n" * 60)
        big["padding"] = "z" * MAX_BODY
        _problem(client.post("/api/tasks", json=big, headers=alice), 413)
        raw = json.dumps(big).encode()
        chunked = client.post(
            "/api/tasks",
            content=(raw[i : i + 512] for i in range(0, len(raw), 512)),
            headers={**alice, "Content-Type": "application/json"},
        )
        _problem(chunked, 413)

        # Page size: the configured maximum passes, one more is a 422 naming the field.
        assert client.get(f"/api/tasks?limit={PAGE_MAX}", headers=alice).status_code == 200
        errors = _problem(client.get(f"/api/tasks?limit={PAGE_MAX + 1}", headers=alice), 422)["errors"]
        assert errors[0]["field"] == "limit"

        # Writes per user: the bucket holds WRITES_PER_MINUTE, then 429 with Retry-After; others unaffected.
        for i in range(WRITES_PER_MINUTE):
            assert client.post("/api/tasks", json=task_body(f"w{i}"), headers=alice).status_code == 201
        limited = client.post("/api/tasks", json=task_body("one too many"), headers=alice)
        _problem(limited, 429)
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert client.get("/api/tasks", headers=alice).status_code == 200  # reads are not limited
        assert client.post("/api/tasks", json=task_body("bob's"), headers=bob).status_code == 201
        names = [t["name"] for t in client.get("/api/tasks", headers=alice).json()]
        assert "one too many" not in names
        assert len(names) == WRITES_PER_MINUTE


def _recv_all(sock: socket.socket, limit: float) -> bytes:
    sock.settimeout(limit)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    return data


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_slow_clients_are_cut_off(limited_api: ServedApi, tokens: TokenFactory) -> None:
    # A head dribbled a byte at a time: the server closes the connection after the header timeout.
    with socket.create_connection(("127.0.0.1", limited_api.port), timeout=10) as sock:
        started = time.monotonic()
        closed_at = None
        for byte in b"GET /health/live HTTP/1.1\r\nHost: slow\r\nX-Drip: " + b"a" * 200:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed_at = time.monotonic() - started
                break
            time.sleep(0.05)
            if _closed(sock):
                closed_at = time.monotonic() - started
                break
        assert closed_at is not None, "a dribbled request head was never cut off"
    assert closed_at >= HEADER_TIMEOUT

    # A body dribbled slower than the body timeout: 408 problem, connection closed, nothing stored.
    headers = tokens.bearer("limits-slow")
    payload = json.dumps(task_body("slow body")).encode()
    with socket.create_connection(("127.0.0.1", limited_api.port), timeout=10) as sock:
        head = (
            f"POST /api/tasks HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
            f"Authorization: {headers['Authorization']}\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        sock.sendall(head + payload[:10])
        answer = _recv_all(sock, BODY_TIMEOUT + 5)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    assert b"application/problem+json" in rest
    with httpx.Client(base_url=limited_api.base_url, timeout=10) as client:
        assert client.get("/api/tasks", headers=headers).json() == []
    print(f"\nslow clients: dribbled head cut off after {closed_at:.2f} s (limit {HEADER_TIMEOUT} s)")


def _readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def _closed(sock: socket.socket) -> bool:
    if not _readable(sock):
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except ConnectionResetError:
        return True
