"""Figures for docs/performance.md (Local stack): how long `make dev` takes to start and to stop, and what
the web front's /api proxy adds to a request.

    uv run python -m benchmarks.stack_startup [--runs 3] [--requests 300]

Starts `python -m devstack --skip-build` on free ports with a throwaway state directory, so it does not touch
.dev/ or a stack already running on the default ports.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from devstack.config import REPO
from devstack.net import free_port
from devstack.processes import spawn
from devstack.token import demo_access_token

READY = "City Tasks is running"


def _start(state: Path, ports: dict[str, int]) -> tuple[subprocess.Popen[str], float]:
    argv = [sys.executable, "-m", "devstack", "--skip-build", "--state-dir", str(state)]
    for name, port in ports.items():
        argv += [f"--{name}-port", str(port)]
    began = time.perf_counter()
    process = spawn(argv, stdout=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"}, cwd=REPO, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if READY in line:
            ready = time.perf_counter() - began
            # Keep reading its output, or the pipe fills and every service blocks on its next log line.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, ready
    raise SystemExit(f"devstack exited with {process.wait()} before it was ready")


def _stop(process: subprocess.Popen[str]) -> float:
    began = time.perf_counter()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    return time.perf_counter() - began


def _latencies(client: httpx.Client, url: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        client.get(url).raise_for_status()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def _measure_proxy(ports: dict[str, int], state: str, requests: int) -> tuple[list[float], list[float]]:
    token = demo_access_token(f"http://127.0.0.1:{ports['idp']}", f"sqlite:///{state}/idp.sqlite3")
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        direct_url = f"http://127.0.0.1:{ports['api']}/api/tasks?limit=20"
        proxied_url = f"http://127.0.0.1:{ports['web']}/api/tasks?limit=20"
        _latencies(client, direct_url, 20)  # warm-up
        _latencies(client, proxied_url, 20)
        return _latencies(client, direct_url, requests), _latencies(client, proxied_url, requests)


def _p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    starts, stops = [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as state:
            ports = {"idp": free_port(), "api": free_port(), "web": free_port()}
            process, ready = _start(Path(state), ports)
            try:
                starts.append(ready)
                if run == 0:
                    direct, proxied = _measure_proxy(ports, state, args.requests)
                stops.append(_stop(process))
            finally:
                if process.poll() is None:  # a failed measurement must not leave the stack running
                    process.send_signal(signal.SIGINT)
                    process.wait(timeout=60)
    print(f"start to ready (cold state, {args.runs} runs): median {statistics.median(starts):.1f} s, "
          f"max {max(starts):.1f} s")  # fmt: skip
    print(f"one SIGINT to exit: median {statistics.median(stops):.2f} s, max {max(stops):.2f} s")
    print(f"GET /api/tasks?limit=20, {args.requests} sequential requests, one client:")
    print(f"  direct to the API   p50 {_p(direct, 50):.2f} ms  p99 {_p(direct, 99):.2f} ms")
    print(f"  via the web front   p50 {_p(proxied, 50):.2f} ms  p99 {_p(proxied, 99):.2f} ms")
    print(f"  proxy adds          p50 {_p(proxied, 50) - _p(direct, 50):.2f} ms")


if __name__ == "__main__":
    main()
