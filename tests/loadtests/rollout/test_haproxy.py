"""HAProxy as the ALB stand-in: a real haproxy in front of real HTTP servers on loopback ports."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from devstack.net import free_port
from devstack.processes import LoggedProcess
from loadtests.rollout.alb import AlbProfile
from loadtests.rollout.haproxy import SERVED_BY, HaproxyAdmin, haproxy_binary, render_config

PROFILE = AlbProfile(
    health_path="/health/ready",
    healthy_codes="200",
    interval_s=0.2,
    timeout_s=0.15,
    healthy_threshold=3,
    unhealthy_threshold=2,
    deregistration_delay_s=0.1,
    idle_timeout_s=60,
    drain_s=0,
    graceful_shutdown_s=1,
    stop_timeout_s=1,
    migrate_on_start=False,
)
SLOTS = ["task1", "task2"]


class Target:
    """A tiny HTTP server: 200 on every path while ``ready``, 503 on the health path otherwise."""

    def __init__(self) -> None:
        self.ready = True
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == PROFILE.health_path:
                    status = 200 if owner.ready else 503
                else:
                    owner.hits += 1
                    status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def balancer(tmp_path: Path) -> Iterator[tuple[str, HaproxyAdmin]]:
    try:
        binary = haproxy_binary()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    port, socket_path = free_port(), tmp_path / "admin.sock"
    config = tmp_path / "haproxy.cfg"
    config.write_text(render_config(PROFILE, port, SLOTS, socket_path))
    process = LoggedProcess([binary, "-db", "-f", str(config)], tmp_path / "haproxy.log").spawn()
    try:
        admin = HaproxyAdmin(socket_path)
        admin.wait_until_up()
        yield f"http://127.0.0.1:{port}", admin
    finally:
        process.stop(grace_seconds=5)


def test_the_generated_configuration_is_valid_and_alb_like(tmp_path: Path) -> None:
    text = render_config(PROFILE, 18080, SLOTS, tmp_path / "admin.sock")
    expected = [
        "retries 0",
        "balance roundrobin",
        "option httpchk GET /health/ready",
        "http-check expect status 200",
        "inter 200ms rise 3 fall 2",
        "timeout client 60000ms",
        "timeout http-keep-alive 60000ms",
    ]
    assert [line for line in expected if line not in text] == []
    assert "redispatch" not in text
    (tmp_path / "h.cfg").write_text(text)
    check = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(tmp_path / "h.cfg")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_registered_target_gets_traffic_only_after_rise_passing_checks(
    balancer: tuple[str, HaproxyAdmin],
) -> None:
    url, admin = balancer
    target = Target()
    try:
        admin.register("task1", target.port)
        registered = time.monotonic()
        first = httpx.get(f"{url}/api/tasks")
        assert first.status_code == 503  # unhealthy until the checks pass, like an ALB target's "initial"
        while not admin.states()["task1"].up:
            assert time.monotonic() - registered < 5
            time.sleep(0.02)
        # Two intervals at least: the first check, then (rise - 1) more.
        assert time.monotonic() - registered >= PROFILE.interval_s * (PROFILE.healthy_threshold - 1)
        answer = httpx.get(f"{url}/api/tasks")
        assert (answer.status_code, answer.headers[SERVED_BY]) == (200, "task1")
        assert target.hits == 1
    finally:
        target.close()


def test_round_robin_over_healthy_targets_and_none_to_a_deregistered_one(
    balancer: tuple[str, HaproxyAdmin],
) -> None:
    url, admin = balancer
    one, two = Target(), Target()
    try:
        admin.register("task1", one.port)
        admin.register("task2", two.port)
        deadline = time.monotonic() + 5
        while not all(s.up for s in admin.states().values()):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with httpx.Client() as client:
            served = [client.get(f"{url}/x").headers[SERVED_BY] for _ in range(6)]
            assert sorted(served) == ["task1"] * 3 + ["task2"] * 3
            admin.deregister("task1")
            assert {client.get(f"{url}/x").headers[SERVED_BY] for _ in range(4)} == {"task2"}
        assert admin.states()["task1"].maintenance
    finally:
        one.close()
        two.close()


def test_a_failing_health_check_takes_the_target_out_after_fall_checks(
    balancer: tuple[str, HaproxyAdmin],
) -> None:
    url, admin = balancer
    target = Target()
    try:
        admin.register("task1", target.port)
        deadline = time.monotonic() + 5
        while not admin.states()["task1"].up:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        target.ready = False
        while admin.states()["task1"].up:
            assert time.monotonic() < deadline + 5
            time.sleep(0.02)
        assert httpx.get(f"{url}/x").status_code == 503
    finally:
        target.close()
