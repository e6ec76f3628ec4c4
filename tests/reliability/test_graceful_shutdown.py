"""SIGTERM under steady traffic: readiness 503 at once, in-flight requests finish, new connections are
refused only after the drain window, and the client sees no failed request. Keep-alive outlives the ALB's."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter

import httpx
import pytest
from tasks_api.settings import Settings

from tests.reliability.served import task_body
from tests.support.tokens import TokenFactory

DRAIN_SECONDS = 2.0
ALB_IDLE_TIMEOUT_SECONDS = 60


class Traffic(threading.Thread):
    """Steady reads and writes through one shared, pooled httpx client (what a proxy's pool does)."""

    def __init__(self, client: httpx.Client, headers: dict[str, str], n: int) -> None:
        super().__init__(daemon=True)
        self.client, self.headers, self.n = client, headers, n
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            i += 1
            try:
                if i % 2:
                    r = self.client.get("/api/tasks?limit=5", headers=self.headers)
                else:
                    r = self.client.post("/api/tasks", json=task_body(f"t{self.n}-{i}"), headers=self.headers)
                self.statuses[r.status_code] += 1
            except httpx.HTTPError as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.01)


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_sigterm_under_load_drains_without_a_failed_request(
    postgres_url: str, serve_api, tokens: TokenFactory
) -> None:
    api = serve_api(postgres_url, DRAIN_SECONDS=str(DRAIN_SECONDS))
    headers = tokens.bearer("drain-user")
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    pool = httpx.Client(base_url=api.base_url, timeout=10, limits=limits)
    traffic = [Traffic(pool, headers, n) for n in range(3)]
    for t in traffic:
        t.start()
    accepted_at: list[float] = []
    refused_at: list[float] = []
    slow_upload: dict[str, object] = {}
    try:
        time.sleep(1.0)
        signalled = time.monotonic()
        api.terminate()

        def probe() -> None:
            # New connections, every 50 ms from the signal on, until one is refused.
            deadline = signalled + DRAIN_SECONDS + 10
            while time.monotonic() < deadline:
                now = time.monotonic() - signalled
                if _accepts_connections(api.port):
                    accepted_at.append(now)
                else:
                    refused_at.append(now)
                    return
                time.sleep(0.05)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        # Readiness turns at once: give the signal handler a moment, not the drain window.
        while (ready := httpx.get(api.base_url + "/health/ready", timeout=2)).status_code == 200:
            assert time.monotonic() - signalled < DRAIN_SECONDS / 4, "readiness still 200 after the signal"
            time.sleep(0.02)
        ready_after = time.monotonic() - signalled
        assert ready.status_code == 503
        assert ready.json()["reason"] == "draining"

        def upload_slowly() -> None:
            # Starts inside the drain window and is still sending its body when the window closes.
            payload = json.dumps(task_body("in flight at shutdown")).encode()

            def chunks():
                for k in range(0, len(payload), 8):  # about 2.5 s of sending
                    yield payload[k : k + 8]
                    time.sleep(0.1)

            with httpx.Client(base_url=api.base_url, timeout=15) as own:
                r = own.post(
                    "/api/tasks", content=chunks(), headers={**headers, "Content-Type": "application/json"}
                )
                slow_upload["status"] = r.status_code
                slow_upload["finished"] = time.monotonic() - signalled

        uploader = threading.Thread(target=upload_slowly, daemon=True)
        time.sleep(DRAIN_SECONDS / 2)
        uploader.start()
        # The load balancer has seen the 503 and stopped routing before the window ends.
        time.sleep(DRAIN_SECONDS / 4)
        for t in traffic:
            t.halt.set()
        for t in traffic:
            t.join(timeout=15)
        prober.join(timeout=DRAIN_SECONDS + 15)
        uploader.join(timeout=15)
        exit_code = api.process.wait(timeout=30)
    finally:
        for t in traffic:
            t.halt.set()
        pool.close()

    statuses = sum((t.statuses for t in traffic), Counter())
    failures = [f for t in traffic for f in t.failures]
    print(
        f"\nshutdown: readiness 503 {ready_after:.2f} s after SIGTERM; "
        f"{sum(statuses.values())} requests {dict(statuses)}, {len(failures)} failed; "
        f"new connections accepted until {max(accepted_at):.2f} s, first refused at {refused_at[0]:.2f} s "
        f"after SIGTERM (drain {DRAIN_SECONDS} s); slow upload {slow_upload}"
    )
    assert failures == []
    assert set(statuses) <= {200, 201}
    assert statuses[201] > 0
    assert refused_at, "new connections were still accepted long after the drain window"
    assert refused_at[0] >= DRAIN_SECONDS, "new connections refused before the drain window ended"
    assert max(accepted_at) >= DRAIN_SECONDS * 0.75
    assert slow_upload.get("status") == 201
    assert slow_upload["finished"] > DRAIN_SECONDS  # it really was in flight when the window closed
    assert exit_code == 0


def test_keep_alive_default_outlives_the_alb_idle_timeout() -> None:
    assert Settings(_env_file=None).keep_alive_timeout_seconds > ALB_IDLE_TIMEOUT_SECONDS


def _request(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_idle_keep_alive_connection_lives_for_the_configured_timeout(postgres_url: str, serve_api) -> None:
    # The default (75 s) is too long to wait for in a test; a short one proves the setting reaches the server.
    api = serve_api(postgres_url, KEEP_ALIVE_TIMEOUT_SECONDS="3")
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        assert _request(sock).startswith(b"HTTP/1.1 200")
        time.sleep(1.5)
        assert _request(sock).startswith(b"HTTP/1.1 200"), "an idle connection closed before the timeout"
        idle_from = time.monotonic()
        assert sock.recv(1) == b""  # the server closes it once idle for the timeout
        closed_after = time.monotonic() - idle_from
    print(f"\nkeep-alive: idle connection closed after {closed_after:.2f} s (setting 3 s)")
    assert closed_after >= 2.5
