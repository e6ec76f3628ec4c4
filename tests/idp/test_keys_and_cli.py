"""Discovery, JWKS and key rotation; the `idp` console script."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pyotp
import pytest
from idp import cli, keys
from idp.seed import SeedError, read_seed

from devstack.net import free_port
from tests.idp.support import RunningIdp, idp_settings, running_idp

DEMO_SECRET = "DEMOLOCALONLYDEMOLOCALONLYDEMOAA"


def _tokens(idp: RunningIdp) -> dict:
    """The demo user's tokens from a fresh IdP (the next step's code: no code has been used there yet)."""
    cognito = idp.cognito()
    challenge = cognito.initiate_auth(
        ClientId="city-tasks-web",
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "demo@example.com", "PASSWORD": "Demo-Passw0rd!"},
    )
    return cognito.respond_to_auth_challenge(
        ClientId="city-tasks-web",
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={
            "USERNAME": "demo@example.com",
            "SOFTWARE_TOKEN_MFA_CODE": pyotp.TOTP(DEMO_SECRET).at(time.time() + 30),
        },
    )["AuthenticationResult"]


@pytest.fixture
def fresh_idp(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    with running_idp(idp_settings(tmp_path, port, key_refresh_seconds=0)) as running:
        yield running


def test_discovery_issuer_equals_token_issuer_and_rotation_keeps_old_keys(fresh_idp: RunningIdp) -> None:
    idp = fresh_idp
    discovery = httpx.get(f"{idp.url}/us-east-1_LocalPool/.well-known/openid-configuration").json()
    assert discovery["issuer"] == f"{idp.settings.public_base}/us-east-1_LocalPool"
    assert discovery["jwks_uri"] == discovery["issuer"] + "/.well-known/jwks.json"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert httpx.get(f"{idp.url}/us-east-1_Other/.well-known/jwks.json").status_code == 404

    before = _tokens(idp)
    old_kid = jwt.get_unverified_header(before["AccessToken"])["kid"]
    old_id_kid = jwt.get_unverified_header(before["IdToken"])["kid"]
    # As in Cognito: two keys in the JWKS, access and ID tokens signed with different ones.
    first_jwks = {k["kid"] for k in httpx.get(discovery["jwks_uri"]).json()["keys"]}
    assert first_jwks == {old_kid, old_id_kid}
    assert old_kid != old_id_kid
    claims = jwt.decode(before["IdToken"], options={"verify_signature": False})
    assert claims["iss"] == discovery["issuer"]

    new_kid, new_id_kid = keys.rotate(idp.pool.store)
    published = {k["kid"] for k in httpx.get(discovery["jwks_uri"]).json()["keys"]}
    assert published == {old_kid, old_id_kid, new_kid, new_id_kid}
    refreshed = idp.cognito().initiate_auth(
        ClientId="city-tasks-web",
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": before["RefreshToken"]},
    )["AuthenticationResult"]
    assert jwt.get_unverified_header(refreshed["AccessToken"])["kid"] == new_kid
    assert jwt.get_unverified_header(refreshed["IdToken"])["kid"] == new_id_kid
    # Tokens signed with the old key still verify against the published set.
    jwks = jwt.PyJWKClient(discovery["jwks_uri"])
    jwt.decode(
        before["AccessToken"],
        jwks.get_signing_key_from_jwt(before["AccessToken"]).key,
        algorithms=["RS256"],
        issuer=discovery["issuer"],
    )
    assert idp.cognito().get_user(AccessToken=before["AccessToken"])["Username"] == claims["sub"]

    assert keys.remove(idp.pool.store, old_kid)
    assert {k["kid"] for k in httpx.get(discovery["jwks_uri"]).json()["keys"]} == {
        old_id_kid,
        new_kid,
        new_id_kid,
    }
    with pytest.raises(idp.cognito().exceptions.NotAuthorizedException):
        idp.cognito().get_user(AccessToken=before["AccessToken"])
    with pytest.raises(ValueError, match="only access signing key"):
        keys.remove(idp.pool.store, new_kid)


def test_cli_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDP_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
    monkeypatch.setenv("IDP_ARGON2_MEMORY_KIB", "8192")
    assert cli.main(["add-user", "cli@example.com", "--name", "Cli User", "--password", "Cli-Passw0rd!"]) == 0
    assert "created cli@example.com" in capsys.readouterr().out
    assert cli.main(["add-user", "cli@example.com", "--name", "Cli User", "--password", "Cli-Passw0rd!"]) == 2
    assert "UsernameExistsException" in capsys.readouterr().err
    assert cli.main(["add-user", "weak@example.com", "--name", "W", "--password", "weak"]) == 2
    assert "InvalidPasswordException" in capsys.readouterr().err

    assert cli.main(["totp", "demo@example.com"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed in {pyotp.TOTP(DEMO_SECRET).at(time.time() + d) for d in (-1, 0)}
    assert cli.main(["totp", "cli@example.com"]) == 2
    assert "not set up TOTP" in capsys.readouterr().err
    assert cli.main(["totp", "nobody@example.com"]) == 2

    assert cli.main(["list-keys"]) == 0
    first = capsys.readouterr().out.split()[0]
    assert cli.main(["rotate-keys"]) == 0
    capsys.readouterr()
    assert cli.main(["list-keys"]) == 0
    listed = capsys.readouterr().out.strip().splitlines()
    assert len(listed) == 4
    assert sorted(line.split()[1] for line in listed) == ["access", "access", "id", "id"]
    assert cli.main(["remove-key", first]) == 0
    assert cli.main(["remove-key", "nope"]) == 2


def test_bad_seed_is_reported_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "seed.yaml"
    bad.write_text("pool:\n  id: LocalPool\n")
    with pytest.raises(SeedError, match="us-east-1_LocalPool"):
        read_seed(bad)
    monkeypatch.setenv("IDP_SEED_FILE", str(bad))
    monkeypatch.setenv("IDP_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    assert cli.main(["list-keys"]) == 0  # needs no seed
    assert cli.main(["totp", "demo@example.com"]) == 2
    assert "pool.id must look like" in capsys.readouterr().err


def test_idp_serve_console_script(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "IDP_PORT": str(port),
        "PUBLIC_URL": "http://localhost:9999/",
        "IDP_DATABASE_URL": f"sqlite:///{tmp_path}/serve.sqlite3",
        "IDP_PUBLIC_URL": "",
    }
    env.pop("IDP_PUBLIC_URL")
    script = Path(sys.executable).parent / "idp"
    proc = subprocess.Popen([str(script), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/us-east-1_LocalPool/.well-known/openid-configuration"
                )
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "idp serve did not start"
                time.sleep(0.1)
        assert response.json()["issuer"] == "http://localhost:9999/us-east-1_LocalPool"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=15)[0].decode()
    # The seed's demo login is public on purpose (issue: `docker compose up` prints it in the IdP's log),
    # flagged as local-only; the password hashes stored for it never appear.
    assert "LOCAL DEVELOPMENT ONLY demo login" in output
    assert "demo@example.com / Demo-Passw0rd!" in output
    assert "$argon2" not in output
