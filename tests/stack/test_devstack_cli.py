"""devstack's whole run with stand-in IdP and API programs: order, health waits, the banner, failures, and one
SIGINT stopping everything. (The smoke test runs the same with the real services.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import psutil
import pytest

from devstack.cli import parse_args
from devstack.net import free_port
from tests.stack.dockerfile import REPO

pytestmark = pytest.mark.timeout(60)

# A stand-in for `idp serve` and `tasks-api serve|migrate`: a tiny HTTP server answering the health probes.
FAKE = """\
#!{python}
import http.server, json, os, sys
role = {role!r}
if sys.argv[1:] == ["migrate"]:
    print("migrations applied to", os.environ.get("SQLITE_PATH"), flush=True)
    sys.exit(int(os.environ.get("FAKE_MIGRATE_EXIT", "0")))
if os.environ.get("FAKE_STUBBORN") == role:
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.environ.get("FAKE_CRASH") == role:
    print("cannot start: bad configuration", flush=True)
    sys.exit(3)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if role == "idp":
            body = {{"issuer": os.environ["IDP_PUBLIC_URL"] + "/us-east-1_LocalPool"}}
        else:
            body = {{"path": self.path, "host": self.headers["Host"], "issuer": os.environ["AUTH_ISSUER"]}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, fmt, *args):
        print(self.command, self.path, flush=True)
prefix = "IDP_" if role == "idp" else ""
host, port = os.environ[prefix + "HOST"], int(os.environ[prefix + "PORT"])
print(role, "listening on", port, flush=True)
http.server.HTTPServer((host, port), Handler).serve_forever()
"""

RUNNER = """
import sys
import devstack.cli as cli
cli.missing_services = lambda: []
cli._script = lambda name: [{{"idp": {idp!r}, "tasks-api": {api!r}}}[name]]
raise SystemExit(cli.main(sys.argv[1:]))
"""


def _start(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], dict]:
    scripts = {}
    for role in ("idp", "api"):
        script = tmp_path / f"fake-{role}"
        script.write_text(FAKE.format(python=sys.executable, role=role))
        script.chmod(0o755)
        scripts[role] = str(script)
    ports = {"idp": free_port(), "api": free_port(), "web": free_port()}
    argv = [sys.executable, "-c", textwrap.dedent(RUNNER.format(**scripts)),
            "--idp-port", str(ports["idp"]), "--api-port", str(ports["api"]), "--web-port", str(ports["web"]),
            "--state-dir", str(tmp_path / "state"), "--skip-build", *extra]  # fmt: skip
    process = subprocess.Popen(
        argv,
        cwd=REPO,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, ports


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        seen.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    return "".join(seen)


def test_stack_starts_in_order_serves_and_stops_on_one_sigint(tmp_path: Path) -> None:
    process, ports = _start(tmp_path)
    try:
        output = _read_until(process, "TOTP code")
        idp_db = f"sqlite:///{tmp_path / 'state' / 'idp.sqlite3'}"
        assert f"TOTP code   IDP_DATABASE_URL={idp_db} uv run idp totp demo@example.com" in output
        order = [m for m in re.findall(r"started (\w+)", output)]
        assert order == ["idp", "migrate", "api", "web"]
        assert re.search(r"^migrate\s*\| migrations applied to .*state/tasks\.db$", output, re.MULTILINE)
        assert f"Web app     http://localhost:{ports['web']}" in output

        web = f"http://127.0.0.1:{ports['web']}"
        assert httpx.get(f"{web}/config.json").json()["authority"] == (
            f"http://localhost:{ports['idp']}/us-east-1_LocalPool"
        )
        proxied = httpx.get(f"{web}/api/tasks?limit=5").json()
        assert proxied["path"] == "/api/tasks?limit=5"
        assert proxied["issuer"] == f"http://localhost:{ports['idp']}/us-east-1_LocalPool"
        pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", output)]

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "SIGINT received: stopping" in rest
        assert rest.rstrip().endswith("stopped")
        for pid in pids:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        process.kill()


def test_a_doubled_sigint_is_one_ctrl_c(tmp_path: Path) -> None:
    """`uv run` forwards the terminal's SIGINT to devstack, which also gets it itself: still a clean stop."""
    process, _ = _start(tmp_path)
    try:
        _read_until(process, "TOTP code")
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "killing" not in rest
        assert rest.rstrip().endswith("stopped")
    finally:
        process.kill()


def test_a_second_ctrl_c_kills_a_service_that_will_not_stop(tmp_path: Path) -> None:
    process, _ = _start(tmp_path, env={"FAKE_STUBBORN": "api"})
    try:
        output = _read_until(process, "TOTP code")
        found = re.search(r"started api \(pid (\d+)\)", output)
        assert found, output
        api_pid = int(found[1])
        process.send_signal(signal.SIGINT)
        _read_until(process, "stopping api")
        time.sleep(1.2)  # a deliberate second press, not the doubled first one
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 130
        assert "second Ctrl-C: killing every service now" in rest
        deadline = time.monotonic() + 10
        while psutil.pid_exists(api_pid) and psutil.Process(api_pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the stubborn API survived the second Ctrl-C"
            time.sleep(0.1)
    finally:
        process.kill()


def test_a_service_that_fails_to_start_stops_the_rest(tmp_path: Path) -> None:
    process, _ = _start(tmp_path, env={"FAKE_CRASH": "api"})
    output, _ = process.communicate(timeout=40)
    assert process.returncode == 1
    assert re.search(r"^api\s*\| cannot start: bad configuration$", output, re.MULTILINE)
    assert "error: api exited with code 3 while starting" in output
    assert "stopping idp" in output
    assert "City Tasks is running" not in output


def test_failed_migrations_stop_the_start(tmp_path: Path) -> None:
    process, _ = _start(tmp_path, env={"FAKE_MIGRATE_EXIT": "1"})
    output, _ = process.communicate(timeout=40)
    assert process.returncode == 1
    assert "error: migrate failed (exit code 1)" in output
    assert "started api" not in output


def test_no_frontend_runs_idp_and_api_only(tmp_path: Path) -> None:
    process, _ = _start(tmp_path, "--no-frontend")
    try:
        output = _read_until(process, "TOTP code")
        assert "started web" not in output
        assert "Web app" not in output
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        assert process.returncode == 0
    finally:
        process.kill()


def test_a_busy_port_is_named_with_the_option_to_change_it(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process, _ = _start(tmp_path, "--api-port", str(port))
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"port already in use: {port} (API; choose another with --api-port)" in output


def test_a_bad_port_variable_is_refused_with_its_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEB_PORT", "eighty")
    with pytest.raises(SystemExit) as exit_info:
        parse_args([])
    assert exit_info.value.code == 2
    assert "WEB_PORT must be a port number, not 'eighty'" in capsys.readouterr().err


def test_port_variables_set_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "18080")
    assert parse_args([]).api_port == 18080
    assert parse_args(["--api-port", "28080"]).api_port == 28080


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--api-port", "0"], "between 1 and 65535"), (["--api-port", "9229"], "the ports must differ")],
)
def test_bad_options_are_refused_with_a_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_services_are_reported_not_crashed(tmp_path: Path) -> None:
    code = "import devstack.cli as c; c.missing_services = lambda: ['the IdP (services/idp)']; c.main([])"
    result = subprocess.run(
        [sys.executable, "-c", code.replace("c.main([])", "raise SystemExit(c.main([]))")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "the IdP (services/idp) is not installed yet (run `make install`)" in result.stdout


def test_token_helper_says_clearly_when_the_idp_is_not_running() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devstack.token", "--idp-url", f"http://127.0.0.1:{free_port()}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("devstack.token: cannot log in at http://127.0.0.1:")
    assert "Traceback" not in result.stderr
