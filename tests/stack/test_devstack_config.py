"""devstack's topology: the seed reader and the environment each service gets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.config import REPO, StackConfig, child_env
from devstack.seed import Seed, SeedError, read_seed

LOCAL_SEED = Seed("us-east-1_LocalPool", "city-tasks-web", "demo@example.com", "Demo-Passw0rd!")


SEED = """\
pool:
  id: eu-west-1_Other
clients:
  - client_id: loadtest
    secret: s3cret
    oauth_flows: [client_credentials]
    auth_flows: [ALLOW_REFRESH_TOKEN_AUTH]
  - client_id: my-web
    auth_flows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]
users:
  - email: demo@example.com
    password: Demo-Passw0rd!
    totp_secret: JBSWY3DPEHPK3PXP
"""


def test_seed_reader_finds_pool_clients_and_demo_login(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    assert read_seed(seed) == Seed(
        pool_id="eu-west-1_Other",
        web_client_id="my-web",
        demo_username="demo@example.com",
        demo_password="Demo-Passw0rd!",
        demo_totp_secret="JBSWY3DPEHPK3PXP",
        machine_client_id="loadtest",
        machine_client_secret="s3cret",
        machine_scope="",
    )
    assert read_seed(seed).region == "eu-west-1"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read the seed file"),
        ("{not: [valid yaml", "is not valid YAML"),
        # The other spellings of the pool id that an earlier reader guessed at are refused, not guessed.
        (
            SEED.replace("pool:\n  id: eu-west-1_Other\n", "pool_id: eu-west-1_Other\n"),
            "pool.id must look like",
        ),
        (SEED.replace("eu-west-1_Other", "Other"), "pool.id must look like a Cognito pool id"),
        (SEED.replace("ALLOW_USER_PASSWORD_AUTH, ", ""), "no client for people to sign in with"),
        (SEED.split("users:")[0], "add a user under users: with email and password"),
    ],
)
def test_a_bad_seed_says_what_to_fix(tmp_path: Path, content: str | None, says: str) -> None:
    seed = tmp_path / "seed.yaml"
    if content is not None:
        seed.write_text(content)
    with pytest.raises(SeedError, match=says) as raised:
        read_seed(seed)
    assert str(seed) in str(raised.value)


def test_a_bad_seed_stops_make_dev_with_the_message(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED.split("users:")[0])
    code = (
        "import devstack.cli as c, devstack.config as k, pathlib;"
        f"c.SEED_FILE = pathlib.Path({str(seed)!r}); raise SystemExit(c.main(['--no-frontend']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "add a user under users: with email and password" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def _config(tmp_path: Path, **overrides: object) -> StackConfig:
    return StackConfig(seed=LOCAL_SEED, state_dir=tmp_path, **overrides)  # type: ignore[arg-type]


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
    from idp.settings import Settings

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
    seed.write_text(SEED)
    assert login_hint(seed) == "demo@example.com / Demo-Passw0rd!"


def test_the_real_seed_matches_the_stack_topology() -> None:
    from devstack.config import SEED_FILE

    seed = read_seed(SEED_FILE)
    # The issuer in docker-compose.yml and the API's default; the client the SPA's default config names.
    assert (seed.pool_id, seed.web_client_id) == (LOCAL_SEED.pool_id, LOCAL_SEED.web_client_id)
    assert seed.demo_username == "demo@example.com"
    assert seed.demo_password
    assert seed.machine_client_id
    assert seed.machine_client_secret
    import yaml

    clients = yaml.safe_load(SEED_FILE.read_text())["clients"]
    web = next(c for c in clients if c.get("client_id") == seed.web_client_id)
    # The SPA's default redirect and sign-out targets on the stack's web port.
    assert "http://localhost:8100/auth/callback" in web["callback_urls"]
    assert "http://localhost:8100/" in web["logout_urls"]
