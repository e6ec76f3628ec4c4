"""devstack's launcher and supervisor on real child processes: prefixed logs, health waits, failures, an
orderly stop of whole process groups."""

from __future__ import annotations

import io
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from devstack.net import free_port
from devstack.processes import LoggedProcess, StackError, run_once
from devstack.supervisor import Console, Service, Supervisor

pytestmark = pytest.mark.timeout(60)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


HTTP_SERVER = """
    import http.server, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"issuer": "x"}'
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    print("listening", flush=True)
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    sup = Supervisor(Console(io.StringIO()))
    yield sup
    sup.kill_all()


def _output(sup: Supervisor) -> str:
    return sup.console._stream.getvalue()  # type: ignore[attr-defined]


def test_service_becomes_healthy_and_its_lines_are_prefixed(supervisor: Supervisor, tmp_path: Path) -> None:
    port = free_port()
    service = supervisor.start(Service("fake-idp", [*_python(HTTP_SERVER), str(port)], {}, tmp_path))
    supervisor.wait_healthy(service, f"http://127.0.0.1:{port}/", timeout=20)
    supervisor.stop_all(grace=5)
    assert service.exited() is not None
    assert "fake-idp | listening\n" in _output(supervisor)


def test_health_check_can_refuse_a_wrong_answer(supervisor: Supervisor, tmp_path: Path) -> None:
    port = free_port()
    service = supervisor.start(Service("fake-idp", [*_python(HTTP_SERVER), str(port)], {}, tmp_path))
    with pytest.raises(StackError, match="issuer is wrong"):
        supervisor.wait_healthy(service, f"http://127.0.0.1:{port}/", 20, check=lambda r: "issuer is wrong")


def test_a_service_that_dies_while_starting_is_reported(supervisor: Supervisor, tmp_path: Path) -> None:
    service = supervisor.start(Service("broken", _python("import sys; print('bad config'); sys.exit(3)"), {},
                                       tmp_path))  # fmt: skip
    with pytest.raises(StackError, match="broken exited with code 3"):
        supervisor.wait_healthy(service, f"http://127.0.0.1:{free_port()}/", timeout=20)


def test_a_service_that_never_answers_times_out(supervisor: Supervisor, tmp_path: Path) -> None:
    service = supervisor.start(Service("silent", _python("import time; time.sleep(60)"), {}, tmp_path))
    with pytest.raises(StackError, match="not healthy"):
        supervisor.wait_healthy(service, f"http://127.0.0.1:{free_port()}/", timeout=1)


def test_one_shot_step_must_succeed(supervisor: Supervisor, tmp_path: Path) -> None:
    supervisor.run_once(Service("migrate", _python("print('applied')"), {}, tmp_path), timeout=20)
    with pytest.raises(StackError, match="migrate failed"):
        supervisor.run_once(Service("migrate", _python("raise SystemExit(1)"), {}, tmp_path), timeout=20)
    assert supervisor.services == []


def test_watch_returns_the_service_that_stopped_on_its_own(supervisor: Supervisor, tmp_path: Path) -> None:
    supervisor.start(Service("steady", _python("import time; time.sleep(60)"), {}, tmp_path))
    quitter = supervisor.start(Service("quitter", _python("import time; time.sleep(0.5)"), {}, tmp_path))
    assert supervisor.watch() is quitter


def test_stop_request_ends_watch(supervisor: Supervisor, tmp_path: Path) -> None:
    supervisor.start(Service("steady", _python("import time; time.sleep(60)"), {}, tmp_path))
    supervisor.stop_requested.set()
    assert supervisor.watch() is None


def test_stop_all_terminates_then_kills_a_stubborn_service(supervisor: Supervisor, tmp_path: Path) -> None:
    stubborn = _python("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print('handler' + ' installed', flush=True)
        time.sleep(60)
    """)
    polite = supervisor.start(Service("polite", _python("import time; time.sleep(60)"), {}, tmp_path))
    mule = supervisor.start(Service("mule", stubborn, {}, tmp_path))
    # Let the stubborn one install its handler before it is asked to stop.
    deadline = time.monotonic() + 20
    while "mule     | handler installed" not in _output(supervisor) and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [polite.pid, mule.pid]
    supervisor.stop_all(grace=1)
    assert polite.exited() == -15  # SIGTERM
    assert mule.exited() == -9  # SIGKILL after the grace period
    assert "did not stop within 1 s" in _output(supervisor)
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids)


# A child that starts a grandchild (in its group, as a server's worker would be) and reports its pid.
SPAWNS_A_GRANDCHILD = """
    import subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print("grandchild", grandchild.pid, flush=True)
    time.sleep(120)
"""


def _grandchild_pid(read: Callable[[], str]) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for line in read().splitlines():
            if "grandchild " in line:
                return int(line.rsplit(" ", 1)[1])
        time.sleep(0.05)
    raise AssertionError(f"no grandchild reported:\n{read()}")


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_stop_takes_the_whole_group_with_it(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    child = LoggedProcess(_python(SPAWNS_A_GRANDCHILD), log).spawn()
    try:
        grandchild = _grandchild_pid(log.read_text)
        child.stop(grace_seconds=5)
        assert child.poll() == -15  # SIGTERM reached the child ...
        assert _gone(grandchild)  # ... and its grandchild, which the child never signalled
    finally:
        child.kill()


def test_stop_kills_a_group_whose_members_ignore_sigterm(tmp_path: Path) -> None:
    stubborn = SPAWNS_A_GRANDCHILD.replace(
        "import subprocess, sys, time", "import signal, subprocess, sys, time"
    ).replace("time.sleep(120)\n", "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)\n", 1)
    log = tmp_path / "child.log"
    child = LoggedProcess(_python(stubborn), log).spawn()
    try:
        grandchild = _grandchild_pid(log.read_text)
        time.sleep(0.3)  # the handler is installed after the print
        child.stop(grace_seconds=1)
        assert child.poll() == -9
        assert _gone(grandchild)
    finally:
        child.kill()


def test_supervisor_stops_a_services_grandchildren(supervisor: Supervisor, tmp_path: Path) -> None:
    supervisor.start(Service("server", _python(SPAWNS_A_GRANDCHILD), {}, tmp_path))
    grandchild = _grandchild_pid(lambda: _output(supervisor))
    supervisor.stop_all(grace=5)
    assert _gone(grandchild)


def test_logged_process_reports_an_early_exit_with_its_log(tmp_path: Path) -> None:
    broken = LoggedProcess(_python("print('bad config'); raise SystemExit(3)"), tmp_path / "broken.log")
    broken.ready_url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(StackError, match=r"exited with code 3 .*\n.*bad config"):
        broken.start()


def test_logged_process_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    silent = LoggedProcess(_python("import time; time.sleep(60)"), tmp_path / "silent.log", start_timeout=1)
    silent.ready_url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(StackError, match="did not answer as expected within 1 s"):
        silent.start()
    assert silent.poll() is not None


def test_run_once_returns_output_or_says_what_failed(tmp_path: Path) -> None:
    assert run_once(_python("print('applied')"), cwd=tmp_path) == "applied\n"
    with pytest.raises(StackError, match=r"failed \(4\):\nhalf done"):
        run_once(_python("print('half done'); raise SystemExit(4)"), cwd=tmp_path)
