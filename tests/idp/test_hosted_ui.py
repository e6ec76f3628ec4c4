"""The hosted UI over real HTTP: follow the forms like a browser, then trade the code with PKCE."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pyotp
import pytest

from tests.idp.support import RunningIdp, sign_up_and_confirm

CLIENT = "city-tasks-web"
REDIRECT = "http://localhost:8100/auth/callback"
LOGOUT = "http://localhost:8100/"
PASSWORD = "Str0ng-Passw0rd!"
DEMO_SECRET = "DEMOLOCALONLYDEMOLOCALONLYDEMOAA"


class FormReader(HTMLParser):
    """Collects the hidden inputs and the action of the page's form (the first, or the one posting to
    `action` when given), and any element text by id."""

    def __init__(self, action: str | None = None) -> None:
        super().__init__()
        self.wanted = action
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        self._capture: str | None = None
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._in_form = self.action is None and self.wanted in (None, a.get("action"))
            if self._in_form:
                self.action = a.get("action")
        if tag == "input" and a.get("type") == "hidden" and self._in_form:
            self.hidden[a["name"] or ""] = a.get("value") or ""
        if a.get("id"):
            self._capture = a["id"]

    def handle_data(self, data: str) -> None:
        if self._capture:
            self.texts[self._capture] = self.texts.get(self._capture, "") + data

    def handle_endtag(self, tag: str) -> None:
        self._capture = None
        if tag == "form":
            self._in_form = False


def read_form(response: httpx.Response, action: str | None = None) -> FormReader:
    assert response.status_code == 200, response.text
    reader = FormReader(action)
    reader.feed(response.text)
    return reader


def submit(
    browser: httpx.Client, page: httpx.Response, action: str | None = None, **fields: str
) -> httpx.Response:
    form = read_form(page, action)
    assert form.action
    return browser.post(form.action, data={**form.hidden, **fields})


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(
    browser: httpx.Client, challenge: str | None, redirect: str = REDIRECT, **extra: str
) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": redirect,
        "state": "st-1",
        "scope": "openid email profile",
        "nonce": "n-1",
        **extra,
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    return browser.get("/oauth2/authorize", params=params)


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlparse(location).query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(idp: RunningIdp, code: str, verifier: str | None, redirect: str = REDIRECT) -> httpx.Response:
    data = {"grant_type": "authorization_code", "client_id": CLIENT, "code": code, "redirect_uri": redirect}
    if verifier is not None:
        data["code_verifier"] = verifier
    return httpx.post(f"{idp.url}/oauth2/token", data=data)


def demo_login(idp: RunningIdp, browser: httpx.Client, challenge: str, code_offset: int) -> str:
    login = browser.get(authorize(browser, challenge).headers["location"])
    to_mfa = submit(browser, login, email="demo@example.com", password="Demo-Passw0rd!")
    assert to_mfa.headers["location"] == "/mfa"
    code = pyotp.TOTP(DEMO_SECRET).at(time.time() + code_offset)
    return code_from(submit(browser, browser.get("/mfa"), code=code))


def test_sign_up_mfa_setup_and_code_flow_with_pkce(idp: RunningIdp) -> None:
    email = f"web-{uuid.uuid4().hex[:8]}@example.com"
    verifier, challenge = pkce()
    with httpx.Client(base_url=idp.url) as browser:
        to_login = authorize(browser, challenge)
        assert to_login.status_code == 302
        assert to_login.headers["location"] == "/login"
        signup_page = browser.get("/signup")
        confirm = submit(browser, signup_page, email=email, name="Web User", password=PASSWORD)
        assert confirm.status_code == 303
        confirm_page = browser.get(confirm.headers["location"])
        to_login = submit(browser, confirm_page, email=email, code=idp.confirmation_code(email))
        assert to_login.headers["location"] == "/login?notice=confirmed"
        to_setup = submit(browser, browser.get(to_login.headers["location"]), email=email, password=PASSWORD)
        assert to_setup.headers["location"] == "/mfa/setup"
        setup = browser.get("/mfa/setup")
        form = read_form(setup)
        secret = form.texts["secret"]
        assert form.texts["otpauth"].startswith("otpauth://totp/")
        assert f"secret={secret}" in form.texts["otpauth"]
        assert "<svg" in setup.text
        wrong = submit(browser, setup, code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        assert wrong.status_code == 400
        code = code_from(submit(browser, setup, code=pyotp.TOTP(secret).now()))

    tokens = exchange(idp, code, verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert set(body) == {"access_token", "id_token", "refresh_token", "expires_in", "token_type"}

    discovery = httpx.get(f"{idp.url}/us-east-1_LocalPool/.well-known/openid-configuration").json()
    jwks = jwt.PyJWKClient(discovery["jwks_uri"])
    ident = jwt.decode(
        body["id_token"],
        jwks.get_signing_key_from_jwt(body["id_token"]).key,
        algorithms=["RS256"],
        audience=CLIENT,
        issuer=discovery["issuer"],
    )
    assert ident["nonce"] == "n-1"
    assert ident["email"] == email
    assert ident["cognito:groups"] == ["Users"]
    access = jwt.decode(
        body["access_token"],
        jwks.get_signing_key_from_jwt(body["access_token"]).key,
        algorithms=["RS256"],
        issuer=discovery["issuer"],
        options={"verify_aud": False},
    )
    assert access["scope"] == "openid email profile"
    assert access["client_id"] == CLIENT
    # OIDC Core 3.1.3.6: at_hash is the left half of the SHA-256 of the access token, base64url.
    half = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert ident["at_hash"] == base64.urlsafe_b64encode(half).rstrip(b"=").decode()
    # Only tokens from the code flow carry it (pycognito 2024.5.1 cannot check it: it hashes a str).
    assert "at_hash" not in jwt.decode(
        idp.cognito().initiate_auth(
            ClientId=CLIENT,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": body["refresh_token"]},
        )["AuthenticationResult"]["IdToken"],
        options={"verify_signature": False},
    )

    info = httpx.get(
        f"{idp.url}/oauth2/userInfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert info.status_code == 200
    assert info.json()["email"] == email

    reused = exchange(idp, code, verifier)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    # The replay also revoked the refresh token the first exchange issued.
    refresh = httpx.post(
        f"{idp.url}/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": CLIENT, "refresh_token": body["refresh_token"]},
    )
    assert refresh.status_code == 400


def test_wrong_verifier_missing_verifier_and_sso_session(idp: RunningIdp) -> None:
    verifier, challenge = pkce()
    with httpx.Client(base_url=idp.url) as browser:
        code = demo_login(idp, browser, challenge, code_offset=-30)
        wrong = exchange(idp, code, pkce()[0])
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"
        # A code is consumed by a failed attempt too.
        assert exchange(idp, code, verifier).json()["error"] == "invalid_grant"

        # Still signed in: a new authorization goes straight back with a code.
        _, challenge2 = pkce()
        code2 = code_from(authorize(browser, challenge2))
        assert exchange(idp, code2, None).json()["error"] == "invalid_grant"

        verifier3, challenge3 = pkce()
        code3 = code_from(authorize(browser, challenge3))
        other_redirect = exchange(idp, code3, verifier3, redirect="http://127.0.0.1:8100/auth/callback")
        assert other_redirect.json()["error"] == "invalid_grant"

        verifier4, challenge4 = pkce()
        good = exchange(idp, code_from(authorize(browser, challenge4)), verifier4)
        assert good.status_code == 200
        refresh_token = good.json()["refresh_token"]

        refreshed = httpx.post(
            f"{idp.url}/oauth2/token",
            data={"grant_type": "refresh_token", "client_id": CLIENT, "refresh_token": refresh_token},
        )
        assert refreshed.status_code == 200
        assert set(refreshed.json()) == {"access_token", "id_token", "expires_in", "token_type"}

        bad_logout = browser.get(
            "/logout", params={"client_id": CLIENT, "logout_uri": "https://evil.example/"}
        )
        assert bad_logout.status_code == 400
        out = browser.get("/logout", params={"client_id": CLIENT, "logout_uri": LOGOUT})
        assert out.status_code == 302
        assert out.headers["location"] == LOGOUT
        # The session ended: authorize asks for the password again, and the refresh token is revoked.
        assert authorize(browser, pkce()[1]).headers["location"] == "/login"
        revoked = httpx.post(
            f"{idp.url}/oauth2/token",
            data={"grant_type": "refresh_token", "client_id": CLIENT, "refresh_token": refresh_token},
        )
        assert revoked.json()["error"] == "invalid_grant"


def test_authorize_refuses_bad_requests(idp: RunningIdp) -> None:
    with httpx.Client(base_url=idp.url) as browser:
        unregistered = authorize(browser, pkce()[1], redirect="https://evil.example/cb")
        assert unregistered.status_code == 400
        assert "location" not in unregistered.headers
        assert "redirect_uri" in unregistered.text

        missing = authorize(browser, None)
        assert missing.status_code == 302
        query = parse_qs(urlparse(missing.headers["location"]).query)
        assert query["error"] == ["invalid_request"]
        assert query["state"] == ["st-1"]

        plain = browser.get(
            "/oauth2/authorize",
            params={
                "response_type": "code",
                "client_id": CLIENT,
                "redirect_uri": REDIRECT,
                "code_challenge": "x" * 43,
                "code_challenge_method": "plain",
            },
        )
        assert parse_qs(urlparse(plain.headers["location"]).query)["error"] == ["invalid_request"]

        scope = authorize(browser, pkce()[1], scope="openid admin:everything")
        assert parse_qs(urlparse(scope.headers["location"]).query)["error"] == ["invalid_scope"]

        token_flow = browser.get(
            "/oauth2/authorize",
            params={"response_type": "token", "client_id": CLIENT, "redirect_uri": REDIRECT},
        )
        assert parse_qs(urlparse(token_flow.headers["location"]).query)["error"] == [
            "unsupported_response_type"
        ]

        unknown = browser.get(
            "/oauth2/authorize",
            params={"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT},
        )
        assert unknown.status_code == 400


def test_login_form_needs_csrf_token_and_flow(idp: RunningIdp) -> None:
    with httpx.Client(base_url=idp.url) as browser:
        no_flow = browser.post("/login", data={"email": "demo@example.com", "password": "Demo-Passw0rd!"})
        assert no_flow.status_code == 400
        authorize(browser, pkce()[1])
        forged = browser.post(
            "/login", data={"email": "demo@example.com", "password": "Demo-Passw0rd!", "_csrf": "guess"}
        )
        assert forged.status_code == 403
        wrong = submit(browser, browser.get("/login"), email="demo@example.com", password="nope-Nope1!")
        assert wrong.status_code == 400
        assert "Incorrect username or password." in wrong.text
        unknown = submit(browser, browser.get("/login"), email="nobody@example.com", password="nope-Nope1!")
        assert "Incorrect username or password." in unknown.text
        assert browser.get("/mfa").headers["location"] == "/login"  # cannot skip the password step


def test_client_credentials_for_the_confidential_client(idp: RunningIdp) -> None:
    url = f"{idp.url}/oauth2/token"
    auth = ("city-tasks-loadtest", "local-only-loadtest-secret-0123456789abcdef")
    ok = httpx.post(
        url, data={"grant_type": "client_credentials", "scope": "city-tasks-api/tasks.read"}, auth=auth
    )
    assert ok.status_code == 200, ok.text
    claims = jwt.decode(ok.json()["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "city-tasks-api/tasks.read"
    assert claims["sub"] == "city-tasks-loadtest"
    assert claims["token_use"] == "access"
    assert "id_token" not in ok.json()

    every = httpx.post(url, data={"grant_type": "client_credentials"}, auth=auth)
    assert jwt.decode(every.json()["access_token"], options={"verify_signature": False})["scope"] == (
        "city-tasks-api/tasks.read city-tasks-api/tasks.write"
    )
    wrong_secret = httpx.post(
        url, data={"grant_type": "client_credentials"}, auth=("city-tasks-loadtest", "x")
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    bad_scope = httpx.post(url, data={"grant_type": "client_credentials", "scope": "openid"}, auth=auth)
    assert bad_scope.json()["error"] == "invalid_scope"
    public = httpx.post(url, data={"grant_type": "client_credentials", "client_id": CLIENT})
    assert public.json()["error"] == "unauthorized_client"
    unknown = httpx.post(url, data={"grant_type": "password", "client_id": CLIENT})
    assert unknown.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("header", ["", "Bearer not-a-token", "Basic abc"])
def test_user_info_requires_a_valid_bearer_token(idp: RunningIdp, header: str) -> None:
    response = httpx.get(f"{idp.url}/oauth2/userInfo", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_admin_created_user_sets_a_new_password_then_mfa_in_the_hosted_ui(idp: RunningIdp) -> None:
    email = f"adm-{uuid.uuid4().hex[:8]}@example.com"
    idp.cognito().admin_create_user(
        UserPoolId="us-east-1_LocalPool",
        Username=email,
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "name", "Value": "Admin Made"}],
    )
    verifier, challenge = pkce()
    with httpx.Client(base_url=idp.url) as browser:
        login = browser.get(authorize(browser, challenge).headers["location"])
        to_new = submit(browser, login, email=email, password="Temp-Passw0rd!")
        assert to_new.headers["location"] == "/new-password"
        page = browser.get("/new-password")
        weak = submit(browser, page, password="weakpass")
        assert weak.status_code == 400
        assert "Password did not conform" in weak.text
        to_setup = submit(browser, page, password=PASSWORD)
        assert to_setup.headers["location"] == "/mfa/setup"
        setup = browser.get("/mfa/setup")
        secret = read_form(setup).texts["secret"]
        code = code_from(submit(browser, setup, code=pyotp.TOTP(secret).now()))
    assert exchange(idp, code, verifier).status_code == 200
    # The new password is the one that works now.
    challenge_response = idp.cognito().initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    assert challenge_response["ChallengeName"] == "SOFTWARE_TOKEN_MFA"


def test_wrong_codes_in_the_hosted_ui_end_the_sign_in(idp: RunningIdp) -> None:
    email = f"codes-{uuid.uuid4().hex[:8]}@example.com"
    idp.cognito().admin_create_user(
        UserPoolId="us-east-1_LocalPool",
        Username=email,
        TemporaryPassword=PASSWORD,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "name", "Value": "Codes"}],
    )
    idp.cognito().admin_set_user_password(
        UserPoolId="us-east-1_LocalPool", Username=email, Password=PASSWORD, Permanent=True
    )
    with httpx.Client(base_url=idp.url) as browser:
        login = browser.get(authorize(browser, pkce()[1]).headers["location"])
        submit(browser, login, email=email, password=PASSWORD)
        setup = browser.get("/mfa/setup")
        secret = read_form(setup).texts["secret"]
        setup_code = pyotp.TOTP(secret).now()
        code_from(submit(browser, setup, code=setup_code))
        browser.get("/logout", params={"client_id": CLIENT, "logout_uri": LOGOUT})

        login = browser.get(authorize(browser, pkce()[1]).headers["location"])
        assert submit(browser, login, email=email, password=PASSWORD).headers["location"] == "/mfa"
        page = browser.get("/mfa")
        replay = submit(browser, page, code=setup_code)
        assert replay.status_code == 400
        assert "already used" in replay.text
        good = pyotp.TOTP(secret).at(time.time() + 30)
        wrong = "000000" if good != "000000" else "111111"
        # One attempt limit for the API and the hosted UI (signin.MAX_MFA_ATTEMPTS = 3): the replay was the
        # first miss, this is the second, and the third ends the sign-in.
        assert submit(browser, page, code=wrong).status_code == 400
        ended = submit(browser, page, code=wrong)
        assert ended.status_code == 401
        assert "Too many wrong codes" in ended.text
        assert submit(browser, page, code=good).status_code == 400  # the flow is gone


def test_hosted_ui_shows_the_lockout(idp: RunningIdp) -> None:
    email = f"lock-{uuid.uuid4().hex[:8]}@example.com"
    idp.cognito().admin_create_user(
        UserPoolId="us-east-1_LocalPool",
        Username=email,
        TemporaryPassword=PASSWORD,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "name", "Value": "Lock"}],
    )
    with httpx.Client(base_url=idp.url) as browser:
        authorize(browser, pkce()[1])
        for _ in range(idp.settings.max_failed_logins):
            submit(browser, browser.get("/login"), email=email, password="Wr0ng-Passw0rd!")
        locked = submit(browser, browser.get("/login"), email=email, password=PASSWORD)
        assert locked.status_code == 400
        assert "Password attempts exceeded" in locked.text


def test_cors_for_the_registered_browser_origins(idp: RunningIdp) -> None:
    origin = "http://localhost:8100"
    discovery = httpx.get(
        f"{idp.url}/us-east-1_LocalPool/.well-known/openid-configuration", headers={"Origin": origin}
    )
    assert discovery.headers["access-control-allow-origin"] == origin
    preflight = httpx.options(
        f"{idp.url}/oauth2/token",
        headers={
            "Origin": "http://127.0.0.1:8100",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8100"
    stranger = httpx.get(
        f"{idp.url}/us-east-1_LocalPool/.well-known/jwks.json", headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in stranger.headers


def test_revoke_ends_a_refresh_token_and_its_access_tokens(idp: RunningIdp) -> None:
    email = f"rev-{uuid.uuid4().hex[:8]}@example.com"
    cognito = idp.cognito()
    cognito.admin_create_user(
        UserPoolId="us-east-1_LocalPool",
        Username=email,
        TemporaryPassword=PASSWORD,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "name", "Value": "Rev"}],
    )
    cognito.admin_set_user_password(
        UserPoolId="us-east-1_LocalPool", Username=email, Password=PASSWORD, Permanent=True
    )
    verifier, challenge = pkce()
    with httpx.Client(base_url=idp.url) as browser:
        login = browser.get(
            authorize(browser, challenge, scope="openid aws.cognito.signin.user.admin").headers["location"]
        )
        submit(browser, login, email=email, password=PASSWORD)
        setup = browser.get("/mfa/setup")
        code = code_from(submit(browser, setup, code=pyotp.TOTP(read_form(setup).texts["secret"]).now()))
    tokens = exchange(idp, code, verifier).json()
    assert cognito.get_user(AccessToken=tokens["access_token"])["UserAttributes"]
    url = f"{idp.url}/oauth2/revoke"
    assert httpx.post(url, data={"client_id": CLIENT}).json()["error"] == "invalid_request"
    assert httpx.post(url, data={"client_id": CLIENT, "token": "unknown"}).status_code == 200
    assert httpx.post(url, data={"client_id": CLIENT, "token": tokens["refresh_token"]}).status_code == 200
    refresh = httpx.post(
        f"{idp.url}/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": CLIENT, "refresh_token": tokens["refresh_token"]},
    )
    assert refresh.json()["error"] == "invalid_grant"
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.get_user(AccessToken=tokens["access_token"])


def test_forgot_password_and_send_the_code_again(idp: RunningIdp) -> None:
    email = f"forgot-{uuid.uuid4().hex[:8]}@example.com"
    new_password = "Rec0vered-Passw0rd!"
    with httpx.Client(base_url=idp.url) as browser:
        browser.get(authorize(browser, pkce()[1]).headers["location"])
        signup = submit(browser, browser.get("/signup"), email=email, name="Fay", password=PASSWORD)
        confirm_page = browser.get(signup.headers["location"])
        resent = submit(browser, confirm_page, action="/confirm/resend")
        assert resent.headers["location"].endswith("notice=sent")
        assert [m["kind"] for m in idp.outbox(email)] == ["signup", "signup"]
        confirmed = submit(
            browser, browser.get(resent.headers["location"]), email=email, code=idp.confirmation_code(email)
        )
        assert confirmed.headers["location"] == "/login?notice=confirmed"

        login = browser.get("/login")
        assert read_form(login).texts["forgot"] == "Forgot your password?"
        asked = submit(browser, browser.get("/forgot-password"), email=email)
        reset_page = browser.get(asked.headers["location"])
        assert "we sent it a code" in reset_page.text
        again = submit(browser, reset_page, action="/forgot-password")
        reset_page = browser.get(again.headers["location"])
        codes = [m["code"] for m in idp.outbox(email, "forgot_password")]
        assert len(codes) == 2
        wrong = "000000" if codes[0] != "000000" else "111111"
        refused = submit(browser, reset_page, email=email, code=wrong, password=new_password)
        assert refused.status_code == 400
        assert "did not match" in refused.text
        done = submit(browser, reset_page, email=email, code=codes[0], password=new_password)
        assert done.headers["location"] == "/login?notice=reset"
        signed_in = submit(browser, browser.get("/login"), email=email, password=new_password)
        assert signed_in.headers["location"] == "/mfa/setup"

        # An unknown address gets the same answer as a known one.
        unknown = submit(browser, browser.get("/forgot-password"), email="nobody-here@example.com")
        assert unknown.status_code == 303
        assert unknown.headers["location"].startswith("/reset-password?")
        assert idp.outbox("nobody-here@example.com") == []


def test_a_pool_with_optional_mfa_signs_in_without_a_code(optional_mfa_idp: RunningIdp) -> None:
    """The same state machine as the API: no software token in an OPTIONAL pool means no MFA page."""
    email = f"opt-{uuid.uuid4().hex[:8]}@example.com"
    sign_up_and_confirm(optional_mfa_idp, email)
    verifier, challenge = pkce()
    with httpx.Client(base_url=optional_mfa_idp.url) as browser:
        login = browser.get(authorize(browser, challenge).headers["location"])
        code = code_from(submit(browser, login, email=email, password=PASSWORD))
    assert exchange(optional_mfa_idp, code, verifier).status_code == 200


def test_a_password_reset_by_the_admin_leads_to_the_reset_page(idp: RunningIdp) -> None:
    email = f"reset-{uuid.uuid4().hex[:8]}@example.com"
    sign_up_and_confirm(idp, email)
    idp.cognito().admin_reset_user_password(UserPoolId="us-east-1_LocalPool", Username=email)
    with httpx.Client(base_url=idp.url) as browser:
        login = browser.get(authorize(browser, pkce()[1]).headers["location"])
        to_reset = submit(browser, login, email=email, password=PASSWORD)
        assert to_reset.status_code == 303
        assert to_reset.headers["location"].startswith("/reset-password?")
        reset_page = browser.get(to_reset.headers["location"])
        code = idp.latest_code(email, "forgot_password")
        done = submit(browser, reset_page, email=email, code=code, password="Aft3r-The-Reset!")
        assert done.headers["location"] == "/login?notice=reset"
        assert (
            submit(browser, browser.get("/login"), email=email, password="Aft3r-The-Reset!").headers[
                "location"
            ]
            == "/mfa/setup"
        )
