"""Benchmark: tokens issued per second through InitiateAuth on one IdP process.

Starts `python -m idp serve` (one uvicorn process, default settings: Argon2id 19 MiB / 2 passes, SQLite
under a temp dir), logs the seeded demo user in once, then drives the cognito-idp JSON API from this process
with keep-alive HTTP clients in threads for a fixed time and prints the figures:

  * REFRESH_TOKEN_AUTH: the token path (no password check): one access + one id token per call, RS256.
  * USER_PASSWORD_AUTH: the password path, which returns the MFA challenge (Argon2 verify dominates).
  * /oauth2/token client_credentials: one access token per call for the confidential client.

    uv run python loadtests/bench_idp.py [--seconds 10] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyotp

POOL = "us-east-1_LocalPool"
CLIENT = "city-tasks-web"
DEMO = ("demo@example.com", "Demo-Passw0rd!", "DEMOLOCALONLYDEMOLOCALONLYDEMOAA")
TARGET = "AWSCognitoIdentityProviderService."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(client: httpx.Client, op: str, body: dict) -> httpx.Response:
    return client.post(
        "/",
        content=json.dumps(body),
        headers={"X-Amz-Target": TARGET + op, "Content-Type": "application/x-amz-json-1.1"},
    )


def login(url: str) -> str:
    with httpx.Client(base_url=url) as client:
        challenge = call(
            client,
            "InitiateAuth",
            {
                "ClientId": CLIENT,
                "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": DEMO[0], "PASSWORD": DEMO[1]},
            },
        ).json()
        done = call(
            client,
            "RespondToAuthChallenge",
            {
                "ClientId": CLIENT,
                "ChallengeName": "SOFTWARE_TOKEN_MFA",
                "Session": challenge["Session"],
                "ChallengeResponses": {
                    "USERNAME": DEMO[0],
                    "SOFTWARE_TOKEN_MFA_CODE": pyotp.TOTP(DEMO[2]).at(time.time() + 30),
                },
            },
        ).json()
        return done["AuthenticationResult"]["RefreshToken"]


def drive(url: str, seconds: float, threads: int, request: Callable[[httpx.Client], httpx.Response]) -> dict:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = request(client)
                if response.status_code == 200:
                    latencies[i].append(time.perf_counter() - started)
                else:
                    failures[i] += 1

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=seconds + 60)
    elapsed = time.monotonic() - started
    flat = sorted(x for chunk in latencies for x in chunk)
    return {
        "ok": len(flat),
        "failed": sum(failures),
        "per_second": len(flat) / elapsed,
        "p50_ms": 1000 * statistics.median(flat) if flat else 0.0,
        "p95_ms": 1000 * flat[int(len(flat) * 0.95)] if flat else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "IDP_PORT": str(port),
            "IDP_PUBLIC_URL": url,
            "IDP_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "idp", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    print("the IdP did not start", file=sys.stderr)
                    return 1
                time.sleep(0.1)
            refresh = login(url)
            results = {
                "InitiateAuth REFRESH_TOKEN_AUTH (access+id token)": drive(
                    url,
                    args.seconds,
                    args.threads,
                    lambda c: call(
                        c,
                        "InitiateAuth",
                        {
                            "ClientId": CLIENT,
                            "AuthFlow": "REFRESH_TOKEN_AUTH",
                            "AuthParameters": {"REFRESH_TOKEN": refresh},
                        },
                    ),
                ),
                "InitiateAuth USER_PASSWORD_AUTH (Argon2 verify -> MFA challenge)": drive(
                    url,
                    args.seconds,
                    args.threads,
                    lambda c: call(
                        c,
                        "InitiateAuth",
                        {
                            "ClientId": CLIENT,
                            "AuthFlow": "USER_PASSWORD_AUTH",
                            "AuthParameters": {"USERNAME": DEMO[0], "PASSWORD": DEMO[1]},
                        },
                    ),
                ),
                "/oauth2/token client_credentials (access token)": drive(
                    url,
                    args.seconds,
                    args.threads,
                    lambda c: c.post(
                        "/oauth2/token",
                        data={"grant_type": "client_credentials"},
                        auth=("city-tasks-loadtest", "local-only-loadtest-secret-0123456789abcdef"),
                    ),
                ),
            }
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    load = os.getloadavg()[0]
    print(f"one IdP process, {args.threads} client threads, {args.seconds:.0f} s per path, ", end="")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f}")
    for name, r in results.items():
        print(
            f"{name:68s} {r['per_second']:7.1f}/s  p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
            f"ok {r['ok']} failed {r['failed']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
