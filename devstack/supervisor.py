"""`make dev`'s supervisor: services started in order with name-prefixed output on one console, health
waits, and an orderly stop in reverse (on devstack.processes, the stack's one launcher)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from devstack.processes import (
    ExitedWhileWaiting,
    NotAnswering,
    StackError,
    signal_group,
    spawn,
    stop_group,
    wait_for_http,
)

__all__ = ["Console", "Service", "StackError", "Supervisor"]
COLOURS = ("\033[35m", "\033[36m", "\033[33m", "\033[32m", "\033[34m")
RESET = "\033[0m"


class Console:
    """Serialises lines from several threads and prefixes each with its service's name."""

    def __init__(self, stream: IO[str] = sys.stdout, width: int = 9) -> None:
        self._stream = stream
        self._lock = threading.RLock()  # re-entrant: a signal handler may log mid-line
        self._width = width
        self._colour = stream.isatty() and not os.environ.get("NO_COLOR")
        self._assigned: dict[str, str] = {}

    def line(self, name: str, text: str) -> None:
        label = name.ljust(self._width)
        if self._colour:
            colour = self._assigned.setdefault(name, COLOURS[len(self._assigned) % len(COLOURS)])
            label = f"{colour}{label}{RESET}"
        with self._lock:
            self._stream.write(f"{label}| {text}\n")
            self._stream.flush()

    def say(self, text: str) -> None:
        self.line("devstack", text)


@dataclass
class Service:
    name: str
    argv: Sequence[str]
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[str] | None = None
    pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()


class Supervisor:
    """Starts services in order and stops them in reverse; `stop_requested` is set by the signal handler."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.services: list[Service] = []
        self.stop_requested = threading.Event()
        self.stop_signal = "stop"

    # --- starting ------------------------------------------------------------------------------------
    def start(self, service: Service) -> Service:
        # A session of its own: the terminal's Ctrl-C reaches devstack only, which then stops each service in
        # order; PDEATHSIG covers the case where devstack itself is killed.
        service.process = spawn(
            service.argv,
            stdout=subprocess.PIPE,
            env=service.env,
            cwd=service.cwd,
            die_with_parent=True,
            text=True,
        )
        service.pump = threading.Thread(
            target=self._pump, args=(service,), name=f"log-{service.name}", daemon=True
        )
        service.pump.start()
        self.services.append(service)
        self.console.say(f"started {service.name} (pid {service.pid}): {_describe(service.argv)}")
        return service

    def _pump(self, service: Service) -> None:
        assert service.process is not None
        assert service.process.stdout is not None
        for raw in service.process.stdout:
            self.console.line(service.name, raw.rstrip("\n"))

    def run_once(self, service: Service, timeout: float) -> None:
        """Run a one-shot step (e.g. migrations) to completion; raise if it fails or takes too long."""
        self.start(service)
        assert service.process is not None
        deadline = time.monotonic() + timeout
        while service.exited() is None:
            if self.stop_requested.is_set():
                raise KeyboardInterrupt
            if time.monotonic() > deadline:
                raise StackError(f"{service.name} did not finish within {timeout:.0f} s")
            time.sleep(0.1)
        if service.pump:
            service.pump.join(timeout=2)
        self.services.remove(service)
        if service.exited() != 0:
            raise StackError(f"{service.name} failed (exit code {service.exited()}); its output is above")

    def wait_healthy(
        self,
        service: Service,
        url: str,
        timeout: float,
        check: Callable[[httpx.Response], str | None] | None = None,
    ) -> None:
        """Poll `url` until it answers 200 (and `check` finds no fault), the service dies, or time is up."""
        began = time.monotonic()
        try:
            response = wait_for_http(
                url, timeout, exited=service.exited, interrupted=self.stop_requested.is_set, interval=0.2
            )
        except ExitedWhileWaiting as exc:
            raise StackError(
                f"{service.name} exited with code {exc.code} while starting; its output is above"
            ) from None
        except NotAnswering as exc:
            raise StackError(
                f"{service.name} was not healthy at {url} within {timeout:.0f} s ({exc.last})"
            ) from None
        if check and (problem := check(response)):
            raise StackError(f"{service.name}: {problem}")
        self.console.say(f"{service.name} is ready ({time.monotonic() - began:.1f} s)")

    # --- running and stopping ------------------------------------------------------------------------
    def watch(self) -> Service | None:
        """Block until a stop is requested (None) or a service exits on its own (that service)."""
        while not self.stop_requested.wait(0.25):
            for service in self.services:
                if service.exited() is not None:
                    return service
        return None

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM each service's group, newest first, wait up to `grace` seconds for each, then SIGKILL."""
        for service in reversed(self.services):
            process = service.process
            if process is None:
                continue
            if process.poll() is None:
                self.console.say(f"stopping {service.name} (pid {process.pid})")
            if stop_group(process, grace):
                self.console.say(f"{service.name} did not stop within {grace:.0f} s: killed it")
            if service.pump:
                service.pump.join(timeout=2)
        self.services.clear()

    def kill_all(self) -> None:
        for service in self.services:
            if service.process and service.process.poll() is None:
                signal_group(service.process, signal.SIGKILL)


def _describe(argv: Sequence[str]) -> str:
    """The command without its directory or inline code, for the log."""
    shown = [Path(argv[0]).name] + [arg for arg in argv[1:] if "\n" not in arg and len(arg) <= 60]
    return " ".join(shown)
