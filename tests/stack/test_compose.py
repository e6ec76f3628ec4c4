"""docker-compose.yml: valid against the compose spec; every variable it sets is read by its service."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from tests.stack.dockerfile import REPO, parse

COMPOSE_FILE = REPO / "docker-compose.yml"
NGINX_TEMPLATE = REPO / "docker" / "nginx" / "default.conf.template"
API_SERVICES = ("migrate", "tasks-api")


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # the safe loader resolves the `<<` merge keys


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _setting_names(settings_cls: type[BaseSettings]) -> set[str]:
    """The environment names pydantic-settings reads: the alias when a field has one, else its name."""
    names: set[str] = set()
    for name, info in settings_cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names.add((alias if isinstance(alias, str) else info.alias or name).upper())
    return names


def test_compose_file_follows_the_compose_specification() -> None:
    result = _check_jsonschema(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    environment:\n", "    enviroment:\n", 1))
    result = _check_jsonschema(broken)
    assert result.returncode != 0
    assert "enviroment" in result.stdout + result.stderr


@pytest.mark.parametrize("service", API_SERVICES)
def test_api_variables_are_settings_of_the_api(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks_api.settings import Settings

    environment = {k: str(v) for k, v in _compose()["services"][service]["environment"].items()}
    unknown = sorted(set(environment) - _setting_names(Settings))
    assert not unknown, f"{service} sets variables that tasks_api.settings.Settings does not read: {unknown}"
    for key in _setting_names(Settings):
        monkeypatch.delenv(key, raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings = Settings()  # the values must parse too
    assert settings.sqlalchemy_url.startswith("postgresql+asyncpg://tasks:tasks@postgres:5432/")


def test_api_trusts_the_issuer_the_browser_sees_and_fetches_keys_inside_the_network() -> None:
    services = _compose()["services"]
    api = services["tasks-api"]["environment"]
    idp = services["idp"]["environment"]
    web = services["frontend"]["environment"]
    assert api["AUTH_ISSUER"].startswith(idp["PUBLIC_URL"] + "/")
    assert api["AUTH_ISSUER"] == web["FRONTEND_AUTHORITY"]
    assert api["AUTH_JWKS_URL"] == api["AUTH_ISSUER"].replace(idp["PUBLIC_URL"], "http://idp:9229") + (
        "/.well-known/jwks.json"
    )
    assert web["FRONTEND_CLIENT_ID"] in api["AUTH_CLIENT_IDS"].split(",")
    assert "http://localhost:8100" in api["CORS_ORIGINS"].split(",")


def test_idp_variables_are_settings_of_the_idp() -> None:
    settings_cls = importlib.import_module("idp.settings").Settings
    environment = _compose()["services"]["idp"]["environment"]
    unknown = sorted(set(environment) - _setting_names(settings_cls))
    assert not unknown, f"idp sets variables that idp.settings.Settings does not read: {unknown}"


# Set by the nginx image's entrypoint (from the container's /etc/resolv.conf) when compose asks for it.
ENTRYPOINT_VARIABLES = {"NGINX_LOCAL_RESOLVERS": "NGINX_ENTRYPOINT_LOCAL_RESOLVERS"}


def test_frontend_variables_are_exactly_those_of_the_nginx_template() -> None:
    environment = set(_compose()["services"]["frontend"]["environment"])
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", NGINX_TEMPLATE.read_text()))
    switches = {ENTRYPOINT_VARIABLES[name] for name in used & set(ENTRYPOINT_VARIABLES)}
    assert environment == (used - set(ENTRYPOINT_VARIABLES)) | switches


def test_services_wait_for_what_they_need() -> None:
    services = _compose()["services"]
    api = services["tasks-api"]["depends_on"]
    assert api["postgres"]["condition"] == "service_healthy"
    assert api["idp"]["condition"] == "service_healthy"
    assert api["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["frontend"]["depends_on"]["tasks-api"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert any(v.startswith("pgdata:") for v in services["postgres"]["volumes"])


def test_built_services_name_targets_of_the_dockerfile() -> None:
    targets = {stage.name for stage in parse().stages}
    for name, service in _compose()["services"].items():
        build = service.get("build")
        if build is None:
            continue
        assert build["dockerfile"] == "Dockerfile.arm64", name
        assert build["target"] in targets, name


@pytest.mark.parametrize(("stage", "module"), [("api", "tasks_api.settings"), ("idp", "idp.settings")])
def test_image_environment_is_read_by_the_service(stage: str, module: str) -> None:
    settings_cls = importlib.import_module(module).Settings
    names: set[str] = set()
    for instruction in parse().stage(stage).all("ENV"):
        names.update(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", instruction.args))
    ours = {n for n in names if n != "PATH" and not n.startswith("PYTHON")}
    assert ours, "expected the image to set some of the service's settings"
    unknown = sorted(ours - _setting_names(settings_cls))
    assert not unknown, f"Dockerfile.arm64 target {stage} sets variables its service does not read: {unknown}"
