"""API replicas behind HAProxy, started and stopped the way ECS runs a service's tasks behind the ALB.

- launch: start the process (it migrates on start, as the task definition says), register it as a new,
  unhealthy target, and wait until the health checks have made it healthy;
- retire (deploy, scale-in): deregister, wait the deregistration delay, SIGTERM (the app drains), and
  SIGKILL only if it is still running after the stop timeout;
- kill: SIGKILL; ECS notices the task stopped and deregisters it, which here is the supervisor seeing
  the process exit.

Every step is time-stamped (``events``) so the report can tell which requests were in flight where.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devstack.net import free_port
from devstack.processes import LoggedProcess, run_once
from loadtests.rollout.alb import AlbProfile
from loadtests.rollout.builds import Build
from loadtests.rollout.haproxy import HaproxyAdmin


@dataclass
class Replica:
    slot: str
    build: Build
    port: int
    process: LoggedProcess
    killed_at: float | None = None
    deregistered_at: float | None = None

    @property
    def log(self) -> Path:
        return self.process.log


@dataclass
class Worker:
    """The scheduler's executor (``tasks-api worker``), its own ECS service: no port, no target."""

    build: Build
    process: LoggedProcess


@dataclass
class Fleet:
    admin: HaproxyAdmin
    profile: AlbProfile
    slots: list[str]
    workdir: Path
    base_env: dict[str, str]
    start_timeout_s: float = 90.0
    replicas: list[Replica] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def _event(self, what: str, replica: Replica, **extra: object) -> None:
        with self._lock:
            self.events.append({"t": time.time(), "event": what, "slot": replica.slot,
                                "build": replica.build.name, **extra})  # fmt: skip

    def _free_slot(self) -> str:
        with self._lock:
            taken = {r.slot for r in self.replicas}
            slot = next((s for s in self.slots if s not in taken), None)
            if slot is None:
                raise RuntimeError(f"all {len(self.slots)} HAProxy slots are taken")
            self._count += 1
            return slot

    def launch(self, build: Build) -> Replica:
        slot = self._free_slot()
        port = free_port()
        argv = [sys.executable, "-m", "tasks_api", "serve", "--host", "127.0.0.1", "--port", str(port)]
        process = LoggedProcess(
            argv,
            self.workdir / f"replica-{self._count}-{slot}-{build.name}.log",
            build.environment(self.base_env),
            cwd=self.workdir,
            ready_url=f"http://127.0.0.1:{port}{self.profile.health_path}",
            start_timeout=self.start_timeout_s,
        )
        replica = Replica(slot, build, port, process)
        with self._lock:
            self.replicas.append(replica)
        process.spawn()
        self._event("started", replica, port=port)
        # ECS registers the task once it runs; the target group's checks decide when it gets traffic.
        self.admin.register(slot, port)
        self._event("registered", replica)
        self._wait_healthy(replica)
        return replica

    def migrate(self, build: Build) -> None:
        """``tasks-api migrate`` of ``build`` run to its end, as the deploy's one-off ECS task."""
        started = time.time()
        run_once(
            [sys.executable, "-m", "tasks_api", "migrate"], build.environment(self.base_env), self.workdir
        )
        with self._lock:
            self.events.append({"t": time.time(), "event": "migrated", "slot": None, "build": build.name,
                                "seconds": round(time.time() - started, 2)})  # fmt: skip

    def _wait_healthy(self, replica: Replica) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if (code := replica.process.poll()) is not None:
                raise RuntimeError(f"replica {replica.slot} exited with {code}; see {replica.log}")
            state = self.admin.states().get(replica.slot)
            if state is not None and state.up and not state.maintenance:
                self._event("healthy", replica)
                return
            time.sleep(0.05)
        raise RuntimeError(f"replica {replica.slot} not healthy within {self.start_timeout_s:.0f} s; "
                           f"see {replica.log}")  # fmt: skip

    def retire(self, replica: Replica) -> None:
        self.admin.deregister(replica.slot)
        replica.deregistered_at = time.time()
        self._event("deregistered", replica)
        time.sleep(self.profile.deregistration_delay_s)
        replica.process.terminate()
        self._event("sigterm", replica)
        try:
            code = replica.process.wait(timeout=self.profile.stop_timeout_s)
            self._event("exited", replica, code=code)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait(timeout=10)
            self._event("sigkill_after_stop_timeout", replica)
        self._forget(replica)

    def kill(self, replica: Replica) -> None:
        replica.process.kill()
        replica.killed_at = time.time()
        self._event("sigkill", replica)
        replica.process.wait(timeout=10)
        # ECS sees the task stop and deregisters the target.
        self.admin.deregister(replica.slot)
        replica.deregistered_at = time.time()
        self._event("deregistered", replica)
        self._forget(replica)

    def _forget(self, replica: Replica) -> None:
        with self._lock:
            self.replicas.remove(replica)

    def running(self, build: Build | None = None) -> list[Replica]:
        with self._lock:
            return [r for r in self.replicas if build is None or r.build == build]

    def start_worker(self, build: Build) -> Worker:
        with self._lock:
            self._count += 1
            log = self.workdir / f"worker-{self._count}-{build.name}.log"
        argv = [sys.executable, "-m", "tasks_api", "worker"]
        worker = Worker(build, LoggedProcess(argv, log, build.environment(self.base_env), cwd=self.workdir))
        worker.process.spawn()
        with self._lock:
            self.workers.append(worker)
            self.events.append(
                {"t": time.time(), "event": "worker_started", "slot": None, "build": build.name}
            )
        return worker

    def stop_worker(self, worker: Worker) -> None:
        """SIGTERM (the worker finishes its batch in hand), SIGKILL after the stop timeout."""
        worker.process.stop(grace_seconds=max(self.profile.stop_timeout_s, 5))
        with self._lock:
            self.workers.remove(worker)
            self.events.append({"t": time.time(), "event": "worker_stopped", "slot": None,
                                "build": worker.build.name})  # fmt: skip

    def stop_all(self) -> None:
        for worker in list(self.workers):
            worker.process.stop(grace_seconds=5)
        self.workers.clear()
        for replica in list(self.replicas):
            replica.process.stop(grace_seconds=5)
            self._forget(replica)


def in_parallel(actions: list[Callable[[], object]]) -> None:
    """ECS starts or stops several tasks at once (a scale-in, a scale-out); so do we. The first error of
    any action is raised once all of them have ended."""
    errors: list[BaseException] = []

    def run(action: Callable[[], object]) -> None:
        try:
            action()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
