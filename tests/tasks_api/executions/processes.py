"""Start and stop real executor processes for the multi-process tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class WorkerPool:
    database_url: str
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, count: int, *args: str) -> list[subprocess.Popen[bytes]]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SCHEDULER_POLL_INTERVAL_SECONDS": "0.2",
            "LOG_LEVEL": "INFO",
            **self.env,
        }
        started = []
        for _ in range(count):
            log = self.logs / f"worker-{len(self.processes)}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "tests.support.scheduler_worker", *args],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            self.processes.append(process)
            started.append(process)
        self.wait_started(started)
        return started

    def wait_started(self, processes: list[subprocess.Popen[bytes]], seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        for process in processes:
            while not any(line.get("event") == "scheduler_started" for line in self.lines(process)):
                if process.poll() is not None:
                    raise AssertionError(
                        f"worker {process.pid} exited early:\n{self.log_of(process).read_text()}"
                    )
                if time.monotonic() > deadline:
                    raise AssertionError(f"worker {process.pid} did not start in {seconds} s")
                time.sleep(0.05)

    def log_of(self, process: subprocess.Popen[bytes]) -> Path:
        return self.logs / f"worker-{self.processes.index(process)}.log"

    def lines(self, process: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_of(process).read_text().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue  # a traceback or a partial last line
        return lines

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for p in self.processes for line in self.lines(p) if line.get("event") == name]

    def stop(self, seconds: float = 20) -> None:
        """SIGTERM everyone still alive, wait, and SIGKILL whoever did not exit in time."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + seconds
        for process in self.processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
