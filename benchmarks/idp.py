"""Benchmark: tokens issued per second through InitiateAuth on one IdP process.

Starts `python -m idp serve` (one uvicorn process, default settings: Argon2id 19 MiB / 2 passes, SQLite
under a temp dir), logs the seeded demo user in once, then drives the cognito-idp JSON API from this process
with keep-alive HTTP clients in threads for a fixed time and prints the figures:

  * REFRESH_TOKEN_AUTH: the token path (no password check): one access + one id token per call, RS256.
  * USER_SRP_AUTH: a whole SRP sign-in, InitiateAuth then RespondToAuthChallenge(PASSWORD_VERIFIER), up to
    the MFA challenge. The client's half of the SRP math (pycognito's, three 3072-bit exponentiations) runs
    in this process on the same machine, so the figure is end to end, client CPU included.
  * USER_PASSWORD_AUTH: the password path, which returns the MFA challenge (Argon2 verify dominates).
  * /oauth2/token client_credentials: one access token per call for the confidential client.

    uv run python -m benchmarks.idp [--seconds 10] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyotp
from pycognito.aws_srp import AWSSRP

from devstack.net import free_port
from devstack.processes import LoggedProcess, StackError
from devstack.seed import read_seed

SEED = read_seed()
POOL = SEED.pool_id
CLIENT = SEED.web_client_id
DEMO = (SEED.demo_username, SEED.demo_password, SEED.demo_totp_secret or "")
TARGET = "AWSCognitoIdentityProviderService."


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


def srp_sign_in(client: httpx.Client) -> httpx.Response:
    """One SRP sign-in as amazon-cognito-identity-js does it; 200 when the proof was accepted."""
    # A dummy boto3 client: only pycognito's math is used here, the HTTP goes through `client`.
    helper = AWSSRP(username=DEMO[0], password=DEMO[1], pool_id=POOL, client_id=CLIENT, client=object())
    params = helper.get_auth_params()
    started = call(
        client, "InitiateAuth", {"ClientId": CLIENT, "AuthFlow": "USER_SRP_AUTH", "AuthParameters": params}
    )
    if started.status_code != 200:
        return started
    proof = helper.process_challenge(started.json()["ChallengeParameters"], params)
    answered = call(
        client,
        "RespondToAuthChallenge",
        {"ClientId": CLIENT, "ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": proof},
    )
    if answered.status_code == 200 and answered.json().get("ChallengeName") != "SOFTWARE_TOKEN_MFA":
        raise RuntimeError(f"unexpected answer to the SRP proof: {answered.text}")
    return answered


def server_srp_cost_ms(rounds: int = 20) -> float:
    """The IdP's own SRP math per sign-in (B, then the session key and proof), in this process, one core."""
    from idp import srp

    verifier = srp.make_verifier(POOL.split("_", 1)[1], "bench", DEMO[1])
    v = int(verifier.verifier, 16)
    client_public = pow(srp.G, 2**255 + 12345, srp.N)
    started = time.perf_counter()
    for _ in range(rounds):
        ephemeral = srp.server_ephemeral(v)
        key = srp.session_key(client_public, ephemeral, v)
        srp.claim_signature(key, POOL.split("_", 1)[1], "bench", "AAAA", "Tue Dec 3 18:41:10 UTC 2024")
    return 1000 * (time.perf_counter() - started) / rounds


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
        server = LoggedProcess(
            [sys.executable, "-m", "idp", "serve"], Path(tmp) / "idp.log", env, ready_url=f"{url}/health"
        )
        try:
            server.start_timeout = 60
            server.start()
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
                "USER_SRP_AUTH sign-in (2 calls, SRP proof -> MFA challenge)": drive(
                    url, args.seconds, args.threads, srp_sign_in
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
                        auth=(SEED.machine_client_id or "", SEED.machine_client_secret or ""),
                    ),
                ),
            }
        except StackError as exc:
            print(f"the IdP did not start: {exc}", file=sys.stderr)
            return 1
        finally:
            server.stop()
    load = os.getloadavg()[0]
    print(f"one IdP process, {args.threads} client threads, {args.seconds:.0f} s per path, ", end="")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f}")
    print(f"the IdP's SRP math per sign-in, measured alone: {server_srp_cost_ms():.1f} ms of one core")
    for name, r in results.items():
        print(
            f"{name:68s} {r['per_second']:7.1f}/s  p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
            f"ok {r['ok']} failed {r['failed']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
