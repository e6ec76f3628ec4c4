"""One API replica's sustainable throughput under a Fargate-like CPU quota, and its memory.

    uv run python -m loadtests.capacity.measure [--vcpus 0.25,0.5,1] [--seconds 8]
        [--out loadtests/reports/capacity.json]

For each quota (``cgroup_cpu``), a fresh ``tasks-api serve`` process (one uvicorn worker, the service's
defaults, migrate on start) is started inside the cgroup on a throwaway PostgreSQL with a JWKS server for
its tokens, and measured with two workloads:

- ``mix``: the Locust mix (``loadtests/locust/mix.py``: list 60, get 15, create 10, update 10, delete 5), each
  connection one user with its own tasks, as the simulated people do;
- ``list``: ``GET /api/tasks`` only, each user owning 20 tasks.

Closed loop: N keep-alive connections, each sending its next request as soon as the previous answer
arrived, for N = 1, 2, 3, 4, 6, ... until p99 reaches 100 ms or a request fails; each level runs twice and
keeps its better run (other work on a shared host only slows a run down). The sustainable throughput is
the highest req/s of a level with p99 < 100 ms and no error. Also recorded: start-to-ready time, RSS at
rest (ready, one request served) and the peak RSS under load, CPU milliseconds per request.

The per-user write limit is turned off (``WRITE_RATE_PER_MINUTE=0``): a connection here sends far more
writes per minute than a person, and the limit is what would be measured otherwise. The load generator and
PostgreSQL run outside the quota, on the same shared machine: record the load average beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.scaling_targets import MEASUREMENT_FILE, derive, task_capacity

from devstack.net import free_port
from devstack.processes import LoggedProcess
from loadtests.capacity import cgroup_cpu
from loadtests.locust import mix
from loadtests.locust.runner import ROOT
from tests.support.postgres import ThrowawayPostgres
from tests.support.tokens import DEFAULT_CLIENT_ID, JwksServer, TokenFactory, new_signing_key

P99_LIMIT_MS = 100.0
LEVELS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
# Each level runs this often and keeps its best run: on a shared host other work only ever slows it down.
REPEATS = 2
LIST_TASKS_PER_USER = 20
EXPECTED = {"list": 200, "get": 200, "create": 201, "update": 200, "delete": 204}


# --- a minimal keep-alive HTTP/1.1 client over asyncio streams ---------------------------------------------


@dataclass
class Answer:
    status: int
    etag: str | None
    body: bytes


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> Answer:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0][9:12])
    length, etag = 0, None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"etag":
            etag = value.strip().decode()
    body = await reader.readexactly(length) if length else b""
    return Answer(status, etag, body)


def http_request(
    method: str, path: str, token: str, body: dict | None = None, etag: str | None = None
) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = [f"{method} {path} HTTP/1.1", "Host: capacity", f"Authorization: Bearer {token}"]
    if etag:
        head.append(f"If-Match: {etag}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


# --- what one connection (one user) does ----------------------------------------------------------------


@dataclass
class User:
    token: str
    rng: random.Random
    list_only: bool
    etags: dict[int, str | None] = field(default_factory=dict)
    serial: int = 0

    def next_call(self) -> tuple[str, bytes, int | None]:
        if self.list_only:
            return "list", http_request("GET", "/api/tasks", self.token), None
        wanted = self.rng.choices(list(mix.TASK_MIX), weights=list(mix.TASK_MIX.values()))[0]
        op = mix.operation_for(wanted, len(self.etags))
        task_id = self.rng.choice(list(self.etags)) if op in ("get", "update", "delete") else None
        path = f"/api/tasks/{task_id}"
        if op == "list":
            return op, http_request("GET", "/api/tasks", self.token), None
        if op == "get":
            return op, http_request("GET", path, self.token), task_id
        if op == "delete":
            return op, http_request("DELETE", path, self.token, etag=self.etags.get(task_id)), task_id  # type: ignore[arg-type]
        self.serial += 1
        body = mix.task_body(self.rng, self.serial)
        if op == "create":
            return op, http_request("POST", "/api/tasks", self.token, body), None
        return op, http_request("PUT", path, self.token, body, self.etags.get(task_id)), task_id  # type: ignore[arg-type]

    def observe(self, op: str, task_id: int | None, answer: Answer) -> bool:
        ok = answer.status == EXPECTED[op]
        if ok and op == "create":
            self.etags[int(json.loads(answer.body)["id"])] = answer.etag
        elif ok and op in ("get", "update") and task_id is not None:
            self.etags[task_id] = answer.etag
        elif op == "delete" and task_id is not None:
            self.etags.pop(task_id, None)
        return ok


async def _connection(port: int, user: User, stop_at: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    try:
        while time.perf_counter() < stop_at:
            op, request, task_id = user.next_call()
            started = time.perf_counter()
            answer = await exchange(reader, writer, request)
            latencies.append(time.perf_counter() - started)
            errors += not user.observe(op, task_id, answer)
    finally:
        writer.close()
    return errors


@dataclass(frozen=True)
class Level:
    connections: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    warmup_requests: int = 0  # sent before the measured window (they cost CPU too)

    @property
    def sustainable(self) -> bool:
        return self.errors == 0 and self.p99_ms < P99_LIMIT_MS


async def drive(port: int, users: list[User], seconds: float, warmup: float = 1.0) -> Level:
    warm: list[float] = []
    await asyncio.gather(*(_connection(port, u, time.perf_counter() + warmup, warm) for u in users))
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(*(_connection(port, u, started + seconds, latencies) for u in users))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("inf")
    return Level(
        connections=len(users),
        requests=len(latencies),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 2) if ordered else float("inf"),
        p99_ms=round(p99 * 1000, 2),
        errors=sum(errors),
        warmup_requests=len(warm),
    )


# --- one replica under one quota --------------------------------------------------------------------------


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class QuotaResult:
    vcpu: float
    start_to_ready_s: float
    rss_at_rest_mib: float
    rss_peak_mib: float
    workloads: dict[str, dict[str, object]] = field(default_factory=dict)


async def seed_lists(port: int, users: list[User]) -> None:
    async def fill(user: User) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in range(LIST_TASKS_PER_USER):
                answer = await exchange(
                    reader, writer, http_request("POST", "/api/tasks", user.token, mix.task_body(user.rng, n))
                )
                if answer.status != 201:
                    raise RuntimeError(f"seeding a task answered {answer.status}: {answer.body[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(fill(u) for u in users))


def measure_workload(port: int, tokens: TokenFactory, list_only: bool, seconds: float, pid: int) -> dict:
    levels: list[Level] = []
    cpu_used, requests = 0.0, 0
    for n, connections in enumerate(LEVELS):
        kind = "list" if list_only else "mix"
        users = [
            User(tokens.access(f"{kind}-{connections}-{i}"), random.Random(n * 100 + i), list_only)
            for i in range(connections)
        ]
        if list_only:
            asyncio.run(seed_lists(port, users))  # not what is measured: CPU counted from here
        cpu_before = cpu_seconds(pid)
        runs = [asyncio.run(drive(port, users, seconds)) for _ in range(REPEATS)]
        cpu_used += cpu_seconds(pid) - cpu_before
        level = max(runs, key=lambda lv: (lv.sustainable, lv.rps))
        requests += sum(run.requests + run.warmup_requests for run in runs)
        levels.append(level)
        print(f"    {kind:4} {connections:3} conn: {level.rps:8.1f} req/s  p50 {level.p50_ms:7.2f} ms  "
              f"p99 {level.p99_ms:7.2f} ms  errors {level.errors}", flush=True)  # fmt: skip
        if not level.sustainable:
            break
    passing = [lv for lv in levels if lv.sustainable]
    best = max(passing, key=lambda lv: lv.rps) if passing else None
    return {
        "sustainable_rps": best.rps if best else 0.0,
        "at_connections": best.connections if best else 0,
        "p99_ms_at_sustainable": best.p99_ms if best else None,
        "cpu_ms_per_request": round(cpu_used * 1000 / max(requests, 1), 3),
        "levels": [asdict(lv) for lv in levels],
    }


def measure_quota(
    vcpu: float, database_url: str, jwks: JwksServer, seconds: float, workdir: Path
) -> QuotaResult:
    tokens = TokenFactory(issuer=jwks.issuer, key=jwks.keys[0], lifetime_seconds=7200)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "DB_"))},
        "DATABASE_URL": database_url,
        "AUTH_ISSUER": jwks.issuer,
        "AUTH_CLIENT_IDS": DEFAULT_CLIENT_ID,
        "MIGRATE_ON_START": "true",
        "LOG_LEVEL": "WARNING",
        "WRITE_RATE_PER_MINUTE": "0",
        "SCHEDULER_ENABLED": "true",
    }
    argv = [sys.executable, "-m", "tasks_api", "serve", "--host", "127.0.0.1", "--port", str(port)]
    name = f"city-capacity-{os.getpid()}-{int(vcpu * 1000)}"
    with cgroup_cpu.cpu_quota(name, vcpu) as group:
        ready_url = f"http://127.0.0.1:{port}/health/ready"
        process = LoggedProcess(argv, workdir / f"api-{vcpu}.log", env, workdir, ready_url, start_timeout=120)
        started = time.perf_counter()
        pid = process.spawn().pid
        cgroup_cpu.add(group, pid)
        try:
            process.wait_ready()
            start_to_ready = time.perf_counter() - started
            asyncio.run(drive(port, [User(tokens.access("warm"), random.Random(0), True)], 1.0, 0.2))
            time.sleep(1.0)
            result = QuotaResult(vcpu, round(start_to_ready, 2), round(rss_kib(pid) / 1024, 1), 0.0)
            print(f"  {vcpu} vCPU: ready in {start_to_ready:.1f} s, RSS at rest {result.rss_at_rest_mib} MiB",
                  flush=True)  # fmt: skip
            for kind, list_only in (("mix", False), ("list", True)):
                result.workloads[kind] = measure_workload(port, tokens, list_only, seconds, pid)
            result.rss_peak_mib = round(rss_kib(pid, "VmHWM") / 1024, 1)
            result.workloads["throttled_s"] = {"total": round(cgroup_cpu.throttled_seconds(group), 1)}
        finally:
            process.stop(grace_seconds=10)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sustainable throughput of one replica under CPU quotas.")
    parser.add_argument("--vcpus", default="0.25,0.5,1", help="comma-separated CPU quotas")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per level")
    parser.add_argument("--out", type=Path, default=ROOT / "loadtests" / "reports" / "capacity.json")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"also keep it as the measurement the scaling targets derive from ({MEASUREMENT_FILE.name})",
    )
    parser.add_argument("--from-report", type=Path, help="record this earlier report instead of measuring")
    args = parser.parse_args(argv)
    if args.from_report:
        return record(json.loads(args.from_report.read_text()))
    if reason := cgroup_cpu.available():
        print(f"capacity: cannot set a CPU quota: {reason}", file=sys.stderr)
        return 2
    vcpus = [float(v) for v in args.vcpus.split(",")]
    workdir = args.out.parent / "capacity"
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    results = []
    with ThrowawayPostgres() as server, JwksServer([new_signing_key()]) as jwks:
        for vcpu in vcpus:
            database_url = server.create_database()
            results.append(measure_quota(vcpu, database_url, jwks, args.seconds, workdir))
    report = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "uv run python -m loadtests.capacity.measure "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "p99_limit_ms": P99_LIMIT_MS,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus_on_host": os.cpu_count(),
        "quotas": [asdict(r) for r in results],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(markdown_table(report))
    print(f"wrote {args.out}")
    return record(report) if args.record else 0


def record(report: dict) -> int:
    """Keep the report as the recorded measurement and print the targets the config must now carry."""
    from infra.environments import load_environments

    MEASUREMENT_FILE.write_text(json.dumps(report, indent=1) + "\n")
    print(f"recorded {MEASUREMENT_FILE}; infra/config/environments.yaml must now say:")
    print(
        f"  # scaling targets: infra/src/infra/scaling_targets.py, capacity measured {report['measured_at']}"
    )
    for name, env in load_environments().items():
        sizes = env.service
        peak = sizes.peak_requests_per_second or 0.0
        targets = derive(task_capacity(report, sizes.cpu), name=name, protect_data=env.protect_data,
                         peak_requests_per_second=peak)  # fmt: skip
        print(f"  {name}: {targets}")
    return 0


def markdown_table(report: dict) -> str:
    rows = [
        "| vCPU | mix req/s | list req/s | mix CPU ms/req | list CPU ms/req | start to ready s "
        "| RSS rest / peak MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for q in report["quotas"]:
        m, lst = q["workloads"]["mix"], q["workloads"]["list"]
        rows.append(
            f"| {q['vcpu']} | {m['sustainable_rps']} | {lst['sustainable_rps']} | {m['cpu_ms_per_request']} "
            f"| {lst['cpu_ms_per_request']} | {q['start_to_ready_s']} "
            f"| {q['rss_at_rest_mib']} / {q['rss_peak_mib']} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
