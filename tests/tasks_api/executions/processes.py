"""Start and stop real executor processes for the multi-process tests, on devstack's launcher."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.processes import LoggedProcess

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class WorkerPool:
    database_url: str
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[LoggedProcess] = field(default_factory=list)

    def start(self, count: int, *args: str) -> list[LoggedProcess]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SCHEDULER_POLL_INTERVAL_SECONDS": "0.2",
            "LOG_LEVEL": "INFO",
            **self.env,
        }
        started = []
        for _ in range(count):
            worker = LoggedProcess(
                [sys.executable, "-m", "tests.support.scheduler_worker", *args],
                log=self.logs / f"worker-{len(self.processes)}.log",
                env=env,
                cwd=ROOT,
            ).spawn()
            self.processes.append(worker)
            started.append(worker)
        self.wait_started(started)
        return started

    def wait_started(self, workers: list[LoggedProcess], seconds: float = 60) -> None:
        """A worker is started once it logs ``scheduler_started`` (it serves no URL to poll)."""
        deadline = time.monotonic() + seconds
        for worker in workers:
            while not any(line.get("event") == "scheduler_started" for line in self.lines(worker)):
                if worker.poll() is not None:
                    raise AssertionError(f"worker {worker.pid} exited early:\n{worker.log.read_text()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"worker {worker.pid} did not start in {seconds} s")
                time.sleep(0.05)

    def lines(self, worker: LoggedProcess) -> list[dict[str, Any]]:
        lines = []
        for raw in worker.log.read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue  # a traceback or a partial last line
        return lines

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for w in self.processes for line in self.lines(w) if line.get("event") == name]

    def stop(self, seconds: float = 20) -> None:
        """SIGTERM everyone still alive first, so they drain in parallel; then the launcher's group stop."""
        for worker in self.processes:
            worker.terminate()
        deadline = time.monotonic() + seconds
        for worker in self.processes:
            worker.stop(grace_seconds=max(deadline - time.monotonic(), 0.1))
