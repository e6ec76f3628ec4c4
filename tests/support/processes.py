"""Server processes for tests and load runs: start one with its output in a log file, wait (bounded) until
an HTTP URL answers, stop it with SIGTERM, then SIGKILL. Which services run, and how, is up to the callers."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def console_script(name: str) -> list[str]:
    """The venv's console script, or `python -m` of its package."""
    path = Path(sys.executable).parent / name
    if path.exists():
        return [str(path)]
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", name.replace("-", "_")]


def log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_once(
    argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> str:
    """Run a command to its end (e.g. migrations); its output, when it fails, is in the error."""
    result = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        command = " ".join(argv)
        raise RuntimeError(f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class LoggedProcess:
    """A subprocess (a server, mostly) whose stdout and stderr go to a file: a full pipe would stall it."""

    argv: Sequence[str]
    log: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    ready_url: str | None = None
    start_timeout: float = 30.0
    ready: Callable[[int], bool] = lambda status: status == 200
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def spawn(self) -> LoggedProcess:
        # Appended, so that a server started again keeps the log of its earlier run.
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, url: str | None = None, timeout: float | None = None) -> None:
        """Return once ``url`` (the ready URL by default) answers with a status ``ready`` accepts; raise with
        the log's tail when the process exits first or the start timeout passes."""
        url = url or self.ready_url
        assert self.process is not None, "spawn() first"
        assert url, "no URL to wait for"
        timeout = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if (code := self.process.poll()) is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {code} ({self.log}):\n{log_tail(self.log)}")
            try:
                status = httpx.get(url, timeout=2.0).status_code
                if self.ready(status):
                    return
                last = f"HTTP {status}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.1)
        raise RuntimeError(
            f"{url} not ready within {timeout:.0f} s ({last}; {self.log}):\n{log_tail(self.log)}"
        )

    def start(self) -> LoggedProcess:
        """Spawn and wait until ready; a server that never gets ready is stopped again."""
        self.spawn()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def terminate(self) -> None:
        """SIGTERM only: the server shuts down (and drains) in its own time."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM, then SIGKILL when the server is still running after ``grace_seconds``."""
        if self.process is None:
            return
        self.terminate()
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def __enter__(self) -> LoggedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
