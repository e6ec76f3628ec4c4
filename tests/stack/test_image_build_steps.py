"""The images' build and run steps, without Docker: on a copy of the build context (what .dockerignore sends),
run the build stage's exact `uv sync` commands, then start the runtime stage's ENTRYPOINT + CMD from that
environment with the stage's ENV, run its HEALTHCHECK command, and stop it with its STOPSIGNAL.

What this cannot cover (it runs on this machine's OS and architecture) is said in docs/local-development.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from devstack.net import free_port
from tests.stack.dockerfile import REPO, dockerignore_rules, in_context, parse
from tests.support.uv import uv_executable

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
# runtime stage -> (build stage, console script, importable module, the variables that move its port and host)
IMAGES = {
    "api": ("api-build", "tasks-api", "tasks_api.settings", "PORT", "HOST"),
    "idp": ("idp-build", "idp", "idp.settings", "IDP_PORT", "IDP_HOST"),
}
UNWANTED = ("pytest", "aws_cdk", "ruff", "hypothesis", "playwright", "city_infra", "moto")


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("context")
    rules = dockerignore_rules()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    for name in tracked:
        if in_context(name, rules) and (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    return root


def _build_venv(stage: str, context: Path, venv: Path) -> None:
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never",
           "UV_PYTHON_PREFERENCE": "only-system", "UV_FROZEN": "1"}  # fmt: skip
    env.pop("VIRTUAL_ENV", None)
    steps = [run.args.split() for run in parse().stage(stage).all("RUN")]
    assert [step[:2] for step in steps] == [["uv", "sync"], ["uv", "sync"]]
    for step in steps:
        step[0] = uv_executable()  # the Dockerfile's `uv` is on the image's PATH; here, the Makefile's uv
        result = subprocess.run(step, cwd=context, env=env, capture_output=True, text=True, timeout=150)
        assert result.returncode == 0, f"{' '.join(step)}:\n{result.stderr[-3000:]}"


def _image_env(stage: str, venv: Path) -> dict[str, str]:
    """The runtime stage's ENV lines, with /app/.venv standing for the environment built here."""
    env: dict[str, str] = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/bin:/bin"}
    for instruction in parse().stage(stage).all("ENV"):
        for pair in instruction.args.split():
            key, _, value = pair.partition("=")
            env[key] = value.replace("$PATH", env.get("PATH", "")).replace("/app/.venv", str(venv))
    return env


@pytest.mark.parametrize("stage", sorted(IMAGES))
def test_image_builds_starts_passes_its_healthcheck_and_stops(
    stage: str, context: Path, tmp_path: Path
) -> None:
    build_stage, script, module, port_var, host_var = IMAGES[stage]
    venv = tmp_path / "venv"
    _build_venv(build_stage, context, venv)

    # What the runtime stage copies: the environment, with the service's code inside it (not editable).
    site = next(venv.glob("lib/python3*/site-packages"))
    assert (site / module.split(".")[0]).is_dir()
    assert (venv / "bin" / script).exists()
    installed = {p.name.lower() for p in site.iterdir()}
    for unwanted in UNWANTED:
        assert not any(name.startswith(unwanted) for name in installed), (
            f"{unwanted} must not be in the image"
        )

    # The runtime stage: WORKDIR /app with what it COPYs from the context, its ENV, ENTRYPOINT + CMD.
    runtime = parse().stage(stage)
    app = tmp_path / "app"
    (app / ".dev").mkdir(parents=True)
    for instruction in runtime.all("COPY"):
        words = [w for w in instruction.args.split() if not w.startswith("--")]
        if "--from=" not in instruction.args:
            source, target = words[0], words[1]
            shutil.copy2(REPO / source, app / Path(target).relative_to("/app"))
    env = _image_env(stage, venv)
    for key, value in env.items():
        if value.startswith("/app/"):
            env[key] = str(app / Path(value).relative_to("/app"))
    port = free_port()
    # Every server in the tests listens on loopback only.
    env[port_var], env[host_var] = str(port), "127.0.0.1"
    if stage == "api":
        env["DRAIN_SECONDS"] = "1"  # the drain still happens, in a second rather than the default five
    (entrypoint,) = runtime.all("ENTRYPOINT")
    (cmd,) = runtime.all("CMD")
    argv = [*entrypoint.exec_form(), *cmd.exec_form()]  # type: ignore[misc]
    argv[0] = shutil.which(argv[0], path=env["PATH"]) or argv[0]
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(argv, cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        (healthcheck,) = runtime.all("HEALTHCHECK")
        probe = healthcheck.exec_form()
        assert probe is not None
        probe[0] = shutil.which(probe[0], path=env["PATH"]) or probe[0]
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            checked = subprocess.run(probe, cwd=app, env=env, capture_output=True, text=True, timeout=30)
            if checked.returncode == 0:
                break
            assert time.monotonic() < deadline, f"HEALTHCHECK never passed: {checked.stderr[-1500:]}"
            time.sleep(0.5)
        (stopsignal,) = runtime.all("STOPSIGNAL")
        stop = getattr(signal, stopsignal.args)
        server.send_signal(stop)
        code = server.wait(timeout=40)
        output = (tmp_path / "server.log").read_text()
        # uvicorn finishes its shutdown, then re-raises the signal it caught: exit 0 or "killed by" it.
        assert code in (0, -stop), output[-3000:]
        assert "application shutdown complete" in output.lower(), output[-3000:]
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
