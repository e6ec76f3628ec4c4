from argparse import Namespace
from pathlib import Path

from loadtests.locust.distributed import master_command
from loadtests.locust.runner import LOCUSTFILE, RunSpec, locust_command, locust_environment, worker_command
from loadtests.locust.thresholds import Thresholds


def after(command, flag):
    return command[command.index(flag) + 1]


def test_a_headless_bounded_run_writes_csv_and_html(tmp_path):
    spec = RunSpec(host="http://127.0.0.1:8080", csv_prefix=tmp_path / "local", users=20, duration_s=60)
    command = locust_command(spec)
    assert "--headless" in command
    assert after(command, "-f") == str(LOCUSTFILE)
    assert after(command, "--run-time") == "60s"
    assert after(command, "--csv") == str(tmp_path / "local")
    assert after(command, "--html") == str(tmp_path / "local.html")
    assert "--master" not in command


def test_thresholds_and_settings_reach_the_locustfile(tmp_path, monkeypatch):
    monkeypatch.setenv("LOAD_SHAPE", "soak")  # a stale setting in the shell must not leak into the run
    spec = RunSpec(
        host="http://127.0.0.1:8080",
        csv_prefix=tmp_path / "x",
        thresholds=Thresholds(max_failures=2, p95_ms=250, auth_p95_ms=3000),
        settings={"LOAD_USER_POOL_ID": "us-east-1_LocalPool"},
        workers=3,
    )
    env = locust_environment(spec)
    assert env["LOAD_P95_MS"] == "250"
    assert env["LOAD_MAX_FAILURES"] == "2"
    assert env["LOAD_AUTH_P95_MS"] == "3000"
    assert env["LOAD_USER_POOL_ID"] == "us-east-1_LocalPool"
    assert env["LOAD_WORKERS"] == "3"
    assert "LOAD_SHAPE" not in env


def test_distributed_master_and_workers(tmp_path):
    spec = RunSpec(host="http://127.0.0.1:8080", csv_prefix=tmp_path / "d", workers=2, master_port=6000)
    command = locust_command(spec)
    assert "--master" in command
    assert after(command, "--expect-workers") == "2"
    assert after(command, "--master-bind-host") == "127.0.0.1"
    worker = worker_command("127.0.0.1", 6000)
    assert "--worker" in worker
    assert after(worker, "--master-port") == "6000"

    args = Namespace(
        host="https://api.example.com", csv_prefix=str(tmp_path / "m"), users=400, spawn_rate=20.0,
        duration=900, max_failures=0, p95_ms=500.0, workers=4, port=5557, bind="10.0.0.5",
    )  # fmt: skip
    remote, env = master_command(args)
    assert after(remote, "--master-bind-host") == "10.0.0.5"
    assert after(remote, "--users") == "400"
    assert env["LOAD_WORKERS"] == "4"
    assert Path(after(remote, "--csv")) == tmp_path / "m"
