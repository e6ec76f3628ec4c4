"""devstack's topology: the seed reader and the environment each service gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.config import StackConfig, child_env
from devstack.seed import DEFAULT_CLIENT_ID, DEFAULT_POOL_ID, Seed, read_seed


def test_seed_reader_finds_pool_client_and_demo_password(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "pool_id: eu-west-1_Other\n"
        "clients:\n"
        "  - client_id: admin-cli\n    client_secret: s3cret\n"
        "  - client_id: my-web\n    callback_urls: [http://localhost:8100/auth/callback]\n"
        "users:\n"
        "  - email: someone@example.com\n    password: Other-Passw0rd!\n"
        "  - email: demo@example.com\n    password: Demo-Passw0rd!\n    totp_secret: JBSWY3DPEHPK3PXP\n"
    )
    assert read_seed(seed) == Seed("eu-west-1_Other", "my-web", "demo@example.com", "Demo-Passw0rd!")


def test_seed_reader_accepts_a_nested_pool_and_keyed_entries(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "pool:\n  id: us-east-1_Nested\n"
        "  clients:\n    web-app: {callback_urls: []}\n"
        "  users:\n    demo@example.com: {password: pw-123456}\n"
    )
    assert read_seed(seed) == Seed("us-east-1_Nested", "web-app", "demo@example.com", "pw-123456")


@pytest.mark.parametrize("content", [None, "", "- just\n- a list\n", "{not: [valid yaml"])
def test_seed_reader_falls_back_to_the_documented_defaults(tmp_path: Path, content: str | None) -> None:
    seed = tmp_path / "seed.yaml"
    if content is not None:
        seed.write_text(content)
    assert read_seed(seed) == Seed(DEFAULT_POOL_ID, DEFAULT_CLIENT_ID, "demo@example.com", None)


def _config(tmp_path: Path, **overrides: object) -> StackConfig:
    return StackConfig(seed=Seed(), state_dir=tmp_path, **overrides)  # type: ignore[arg-type]


def test_api_trusts_the_idp_issuer_and_allows_the_web_origin(tmp_path: Path) -> None:
    config = _config(tmp_path, idp_port=19229, api_port=18080, web_port=18100)
    env = config.api_env()
    assert env["AUTH_ISSUER"] == "http://localhost:19229/us-east-1_LocalPool"
    assert env["AUTH_JWKS_URL"] == "http://127.0.0.1:19229/us-east-1_LocalPool/.well-known/jwks.json"
    assert env["AUTH_CLIENT_IDS"] == "city-tasks-web"
    assert "http://localhost:18100" in env["CORS_ORIGINS"].split(",")
    assert env["HOST"] == "127.0.0.1"
    assert env["PORT"] == "18080"
    assert env["SQLITE_PATH"] == str(tmp_path / "tasks.db")
    assert "DATABASE_URL" not in env
    assert config.idp_env() == {
        "IDP_PUBLIC_URL": "http://localhost:19229",
        "IDP_HOST": "127.0.0.1",
        "IDP_PORT": "19229",
        "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}",
    }


def test_database_url_goes_to_the_api_only(tmp_path: Path) -> None:
    config = _config(tmp_path, database_url="postgresql://u:p@127.0.0.1/tasks")
    assert config.api_env()["DATABASE_URL"] == "postgresql://u:p@127.0.0.1/tasks"
    idp = child_env({"DATABASE_URL": "postgresql://u:p@127.0.0.1/tasks", "HOME": "/root"}, config.idp_env(),
                    drop=("DATABASE_URL", "DB_SECRET"))  # fmt: skip
    assert "DATABASE_URL" not in idp
    assert idp["HOME"] == "/root"
    assert idp["PYTHONUNBUFFERED"] == "1"


def test_every_variable_devstack_sets_for_the_api_is_a_setting(tmp_path: Path) -> None:
    from tasks_api.settings import Settings

    from tests.stack.test_compose import _setting_names

    env = _config(tmp_path, database_url="postgresql://u:p@127.0.0.1/tasks").api_env()
    assert set(env) <= _setting_names(Settings)


def test_every_variable_devstack_sets_for_the_idp_is_a_setting(tmp_path: Path) -> None:
    try:
        from idp.settings import Settings
    except ModuleNotFoundError:
        pytest.skip("idp.settings does not exist yet (the IdP is being written on branch idp)")
    from tests.stack.test_compose import _setting_names

    assert set(_config(tmp_path).idp_env()) <= _setting_names(Settings)


def test_web_config_points_the_spa_at_the_idp_and_its_own_origin(tmp_path: Path) -> None:
    config = _config(tmp_path, idp_port=19229, web_port=18100)
    assert config.web_config() == {
        "apiUrl": "",
        "authority": "http://localhost:19229/us-east-1_LocalPool",
        "clientId": "city-tasks-web",
        "hostedUiDomain": "http://localhost:19229",
    }
    assert json.loads(config.web_env(None)["DEVSTACK_WEB_CONFIG"]) == config.web_config()


def test_login_hint_names_the_demo_user_and_password(tmp_path: Path) -> None:
    from devstack.seed import login_hint

    seed = tmp_path / "seed.yaml"
    seed.write_text("users:\n  - email: demo@example.com\n    password: Demo-Passw0rd!\n")
    assert login_hint(seed) == "demo@example.com / Demo-Passw0rd!"
    assert login_hint(tmp_path / "missing.yaml") == "demo@example.com / (the password in missing.yaml)"


def test_the_real_seed_matches_the_stack_topology() -> None:
    from devstack.config import SEED_FILE

    if not SEED_FILE.exists():
        pytest.skip("services/idp/seed.yaml does not exist yet")
    seed = read_seed(SEED_FILE)
    assert seed.pool_id == DEFAULT_POOL_ID  # the issuer in docker-compose.yml and the API's default
    assert seed.web_client_id == DEFAULT_CLIENT_ID
    assert seed.demo_username == "demo@example.com"
    assert seed.demo_password
    import yaml

    clients = yaml.safe_load(SEED_FILE.read_text())["clients"]
    web = next(c for c in clients if c.get("client_id") == seed.web_client_id)
    # The SPA's default redirect and sign-out targets on the stack's web port.
    assert "http://localhost:8100/auth/callback" in web["callback_urls"]
    assert "http://localhost:8100/" in web["logout_urls"]
