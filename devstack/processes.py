"""The one launcher for the stack's processes (make dev, the e2e tests, the load runs, the benchmarks).

Every process leads a session (and so a process group) of its own: stopping it signals the whole group, so a
server's workers and anything else it started go with it. Waits are bounded and say why they gave up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A process failed to start or stopped on its own; the message says which and what to look at."""


class ExitedWhileWaiting(StackError):
    def __init__(self, code: int) -> None:
        super().__init__(f"exited with code {code}")
        self.code = code


class NotAnswering(StackError):
    def __init__(self, url: str, timeout: float, last: str) -> None:
        super().__init__(f"{url} did not answer as expected within {timeout:.0f} s ({last})")
        self.last = last


def console_script(name: str) -> list[str]:
    """The console script installed beside this interpreter (the workspace's .venv), else on PATH, else
    ``python -m`` of its package."""
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


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the thread that started it dies, so no server outlives its owner."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def spawn(
    argv: Sequence[str],
    *,
    stdout: IO[Any] | int | None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    die_with_parent: bool = False,
    text: bool = False,
) -> subprocess.Popen[Any]:
    """Start ``argv`` as the leader of a new session, stdin closed, stderr into ``stdout`` (None: ours)."""
    return subprocess.Popen(  # noqa: S603 - argv built by the caller, no shell
        list(argv),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=text,
        bufsize=1 if text else -1,
        errors="replace" if text else None,
        start_new_session=True,
        preexec_fn=_die_with_parent if die_with_parent and sys.platform == "linux" else None,
    )


def signal_group(process: subprocess.Popen[Any], sig: signal.Signals) -> None:
    """Signal the process's group (it leads one: see spawn); the process alone if the group is gone."""
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)


def stop_group(process: subprocess.Popen[Any], grace: float) -> bool:
    """SIGTERM the group, wait up to ``grace`` seconds for the leader, then SIGKILL the group. Returns
    whether it had to kill. The group is killed in any case once the leader is gone, so a grandchild that
    ignored SIGTERM (or outlived its parent) does not stay behind."""
    killed = False
    if process.poll() is None:
        signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            killed = True
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if killed:
        process.wait(timeout=10)
    return killed


def wait_for_http(
    url: str,
    timeout: float,
    *,
    accept: Callable[[httpx.Response], bool] = lambda response: response.status_code == 200,
    exited: Callable[[], int | None] = lambda: None,
    interrupted: Callable[[], bool] = lambda: False,
    interval: float = 0.1,
) -> httpx.Response:
    """Poll ``url`` until an answer ``accept`` takes (returned), the process dies (``exited`` gives its
    code: ExitedWhileWaiting), ``interrupted`` says so (KeyboardInterrupt) or time is up (NotAnswering)."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if interrupted():
                raise KeyboardInterrupt
            if (code := exited()) is not None:
                raise ExitedWhileWaiting(code)
            try:
                response = client.get(url)
                if accept(response):
                    return response
                last = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            if time.monotonic() > deadline:
                raise NotAnswering(url, timeout, last)
            time.sleep(interval)


def run_once(
    argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> str:
    """Run a command to its end (e.g. migrations) and return its output; when it fails, the error has it."""
    try:
        result = subprocess.run(  # noqa: S603 - argv built by the caller, no shell
            list(argv), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"{' '.join(argv)} did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        command = " ".join(argv)
        raise StackError(f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class LoggedProcess:
    """A process (a server, mostly) whose output goes to a log file (a full pipe would stall it)."""

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
            self.process = spawn(self.argv, stdout=out, env=self.env, cwd=self.cwd)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "spawn() first"
        return self.process.pid

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def wait(self, timeout: float) -> int:
        assert self.process is not None, "spawn() first"
        return self.process.wait(timeout=timeout)

    def wait_ready(self, url: str | None = None, timeout: float | None = None) -> None:
        """Return once ``url`` (the ready URL by default) answers with a status ``ready`` accepts; raise with
        the log's tail when the process exits first or the time is up."""
        url = url or self.ready_url
        assert self.process is not None, "spawn() first"
        assert url, "no URL to wait for"
        try:
            wait_for_http(
                url,
                self.start_timeout if timeout is None else timeout,
                accept=lambda response: self.ready(response.status_code),
                exited=self.process.poll,
            )
        except StackError as exc:
            raise StackError(
                f"{Path(self.argv[0]).name}: {exc} ({self.log}):\n{log_tail(self.log)}"
            ) from None

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
        """SIGTERM to the group only: the server shuts down (and drains) in its own time."""
        if self.process is not None and self.process.poll() is None:
            signal_group(self.process, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the group: what a crash (or the OOM killer) does."""
        if self.process is not None:
            signal_group(self.process, signal.SIGKILL)

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM the group, then SIGKILL when the process is still running after ``grace_seconds``."""
        if self.process is not None:
            stop_group(self.process, grace_seconds)

    def __enter__(self) -> LoggedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
