"""The typed environments: the shipped file loads, and mistakes are refused with a message that says where."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from infra.constructs.retention import retention
from infra.environments import CONFIG_FILE, ConfigError, get_environment, load_environments


def _write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(CONFIG_FILE.read_text())
    mutate(data)
    path = tmp_path / "environments.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_all_four_environments_load_with_their_accounts_and_profiles():
    envs = load_environments()
    assert list(envs) == ["sandbox", "dev", "test", "prod"]
    sandbox = envs["sandbox"]
    assert sandbox.workload.region == "us-east-1"  # from defaults
    assert sandbox.security.profile == "city-security"
    assert sandbox.hosted_ui_domain_prefix == "city-tasks-sandbox"
    assert sandbox.local_callback_urls == ("http://localhost:8100/auth/callback",)
    assert envs["prod"].protect_data is True
    assert not any(e.protect_data for name, e in envs.items() if name != "prod")
    assert envs["prod"].database.readers == 1


def test_unknown_key_is_named(tmp_path):
    path = _write(tmp_path, lambda d: d["environments"]["dev"]["service"].update(cpus=2))
    with pytest.raises(ConfigError, match=r"environments\.dev\.service: unknown key\(s\) cpus"):
        load_environments(path)


def test_missing_required_key_is_named(tmp_path):
    path = _write(tmp_path, lambda d: d["environments"]["test"].pop("alarm_email"))
    with pytest.raises(ConfigError, match=r"environments\.test: .*alarm_email"):
        load_environments(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"service": {"cpu": 256, "memory_mib": 4096, "min_tasks": 1, "max_tasks": 2}},
            "not valid for cpu 256",
        ),
        ({"service": {"cpu": 300, "memory_mib": 512, "min_tasks": 1, "max_tasks": 2}}, "cpu must be one of"),
        (
            {"service": {"cpu": 256, "memory_mib": 512, "min_tasks": 3, "max_tasks": 2}},
            "min_tasks <= max_tasks",
        ),
        ({"database": {"min_acu": 0.25, "max_acu": 4}}, "multiple of 0.5"),
        ({"database": {"min_acu": 8, "max_acu": 4}}, "min_acu <= max_acu"),
        ({"workload": {"account": 1234, "profile": "x"}}, "12 digits"),
        ({"nat_gateways": 3}, "nat_gateways must be 1 or 2"),
        ({"log_retention_days": 10}, "log_retention_days must be one of"),
        ({"alarm_email": "nobody"}, "not an e-mail address"),
        (
            {"shutdown": {"drain_seconds": 30, "graceful_shutdown_seconds": 90, "margin_seconds": 5}},
            "above Fargate's 120 s stopTimeout",
        ),
        ({"shutdown": {"drain_seconds": 5, "margin_seconds": 0}}, "margin_seconds must be at least 1"),
        ({"shutdown": {"drain_seconds": -1}}, "whole number of seconds"),
        ({"domains": {"api_domain": "api.example.com"}}, "needs domains.api_certificate_arn"),
        (
            {
                "domains": {
                    "hosted_zone_id": "Z1",
                    "hosted_zone_name": "example.com",
                    "frontend_domain": "app.example.com",
                    "frontend_certificate_arn": "arn:aws:acm:eu-west-1:111111111111:certificate/x",
                }
            },
            "must be in us-east-1",
        ),
    ],
)
def test_impossible_values_are_refused(tmp_path, change, message):
    path = _write(tmp_path, lambda d: d["environments"]["sandbox"].update(change))
    with pytest.raises(ConfigError, match=message):
        load_environments(path)


def test_missing_environment_and_unknown_name(tmp_path):
    path = _write(tmp_path, lambda d: d["environments"].pop("test"))
    with pytest.raises(ConfigError, match="missing environment"):
        load_environments(path)
    with pytest.raises(ConfigError, match="unknown environment 'staging'"):
        get_environment("staging")


def test_broken_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("environments: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_environments(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_environments(tmp_path / "absent.yaml")


def test_log_retention_maps_days_onto_cdk():
    assert retention(30).name == "ONE_MONTH"
    assert retention(365).name == "ONE_YEAR"
    with pytest.raises(ValueError, match="no 10-day retention"):
        retention(10)


def test_callback_path_must_be_a_path(tmp_path):
    path = _write(tmp_path, lambda d: d["defaults"].update(callback_path="callback"))
    with pytest.raises(ConfigError, match="callback_path must start with '/'"):
        load_environments(path)
