"""HAProxy standing in for the ALB: its configuration, written from an ``AlbProfile``, and its runtime API.

Like the ALB: round robin, health checks on the target group's path with its interval, timeout and
thresholds, the 60 s idle timeout on both sides, and no retries (the ALB answers 502/503 instead of trying
another target). Targets are registered and deregistered at run time through the admin socket, the way
ECS registers tasks: a new target starts unhealthy and takes ``healthy_threshold`` passing checks; a
deregistered one gets no new requests while those in flight finish.

Each response carries ``X-Served-By: <slot>`` so the load driver can tell which replica answered (or
which one HAProxy was talking to when it answered 502 itself).
"""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from loadtests.rollout.alb import AlbProfile

BACKEND = "api"
SERVED_BY = "X-Served-By"
PLACEHOLDER_PORT = 9  # slots wait in maintenance on the discard port until a replica takes them


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def render_config(profile: AlbProfile, bind_port: int, slots: list[str], admin_socket: Path) -> str:
    codes = " ".join(profile.healthy_codes.split(","))
    checks = (
        f"inter {_ms(profile.interval_s)} rise {profile.healthy_threshold} fall {profile.unhealthy_threshold}"
    )
    servers = "\n".join(f"    server {slot} 127.0.0.1:{PLACEHOLDER_PORT} check disabled" for slot in slots)
    return f"""# Written by loadtests.rollout.haproxy from the Tasks stack's target group.
global
    stats socket {admin_socket} mode 600 level admin
    log stdout format raw local0
    maxconn 4096
    # One thread: a registration's "ready; health down" then runs before any request can pick the slot.
    nbthread 1

defaults
    mode http
    log global
    option httplog
    # The ALB does not retry a request on another target.
    retries 0
    timeout connect 10s
    timeout client {_ms(profile.idle_timeout_s)}
    timeout server {_ms(profile.idle_timeout_s)}
    timeout http-keep-alive {_ms(profile.idle_timeout_s)}
    timeout http-request 60s
    timeout check {_ms(profile.timeout_s)}

frontend alb
    bind 127.0.0.1:{bind_port}
    default_backend {BACKEND}
    http-after-response set-header {SERVED_BY} %s

backend {BACKEND}
    balance roundrobin
    option httpchk GET {profile.health_path}
    http-check expect status {codes}
    default-server {checks}
{servers}
"""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )
    if found is None:
        raise RuntimeError("haproxy is not installed: apt-get install haproxy (.ci/run installs it in CI)")
    return found


@dataclass(frozen=True)
class ServerState:
    slot: str
    up: bool
    maintenance: bool
    port: int


class HaproxyAdmin:
    """The runtime API on the admin socket: one command per connection."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def command(self, line: str, timeout: float = 5.0) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        answer = b"".join(chunks).decode()
        if any(word in answer for word in ("Unknown command", "No such", "Require ", "invalid")):
            raise RuntimeError(f"haproxy refused {line!r}: {answer.strip()}")
        return answer

    def wait_until_up(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.command("show info")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"haproxy's admin socket {self.path} did not answer") from None
                time.sleep(0.05)

    def register(self, slot: str, port: int) -> None:
        """Point the slot at a replica and take it out of maintenance as unhealthy (in one command, so no
        request reaches it before it has passed ``rise`` checks: an ALB target's initial state)."""
        self.command(
            f"set server {BACKEND}/{slot} addr 127.0.0.1 port {port}; "
            f"set server {BACKEND}/{slot} state ready; set server {BACKEND}/{slot} health down"
        )

    def deregister(self, slot: str) -> None:
        """No new requests to the slot; requests it is serving finish (the ALB's deregistration)."""
        self.command(f"set server {BACKEND}/{slot} state maint")

    def states(self) -> dict[str, ServerState]:
        # "show servers state" columns (HAProxy 2.x): be_id be_name srv_id srv_name srv_addr srv_op_state
        # srv_admin_state ... srv_port is the 19th.
        result = {}
        for line in self.command(f"show servers state {BACKEND}").splitlines():
            fields = line.split()
            if len(fields) < 19 or not fields[0].isdigit():
                continue
            result[fields[3]] = ServerState(
                slot=fields[3],
                up=fields[5] == "2",
                maintenance=int(fields[6]) & 0x01 != 0 or int(fields[6]) & 0x02 != 0,
                port=int(fields[18]),
            )
        return result
