"""podman as the container tests run it: its settings for this kind of machine, and its Docker-compatible API.

`python -m tests.containers.engine socket -- COMMAND...` runs COMMAND with DOCKER_HOST pointing at a podman
API service started for it, and stops the service afterwards (testcontainers uses it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTAINERS_CONF = HERE / "podman" / "containers.conf"
REGISTRIES_CONF = HERE / "podman" / "registries.conf"


class EngineMissing(RuntimeError):
    pass


def podman_env() -> dict[str, str]:
    """The environment podman runs with here; the settings files unless the caller chose others."""
    if shutil.which("podman") is None:
        raise EngineMissing(
            "podman is not installed: `make test-containers` installs it (tests/containers/setup-host.sh)"
        )
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    env.setdefault("CONTAINERS_REGISTRIES_CONF", str(REGISTRIES_CONF))
    return env


def podman(
    *args: str, check: bool = True, timeout: float = 120, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=capture, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed ({result.returncode}): {result.stderr or ''}")
    return result


@contextlib.contextmanager
def docker_api_socket(timeout: float = 30) -> Iterator[str]:
    """podman's Docker-compatible API on a socket of its own while the block runs; yields DOCKER_HOST."""
    folder = Path(tempfile.mkdtemp(prefix="city-podman-api-"))
    socket_path = folder / "podman.sock"
    url = f"unix://{socket_path}"
    log = (folder / "service.log").open("w")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", url],
        env=podman_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout
        while not socket_path.exists():
            if service.poll() is not None or time.monotonic() > deadline:
                output = (folder / "service.log").read_text()
                raise RuntimeError(f"podman system service did not start: {output}")
            time.sleep(0.1)
        yield url
    finally:
        service.terminate()
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.containers.engine")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("socket", help="run a command with DOCKER_HOST set to a podman API service")
    run.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not command:
        parser.error("give the command to run after --")
    with docker_api_socket() as url:
        env = {
            **podman_env(),
            "DOCKER_HOST": url,
            # Ryuk (the reaper container) is Docker-only; the tests stop what they start.
            "TESTCONTAINERS_RYUK_DISABLED": "true",
            # The engine runs on this host: reach published ports on it. (testcontainers takes a machine with
            # /.dockerenv, like CI's, for a container in Docker, and looks for a gateway podman's API lacks.)
            "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
        }
        print(f"engine: podman's Docker API at {url} for: {' '.join(command)}", flush=True)
        return subprocess.run(command, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
