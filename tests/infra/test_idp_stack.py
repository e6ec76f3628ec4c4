"""The IdP stack: the original's Cognito pool (email sign-in, TOTP-only MFA, group Users) and its clients."""

from __future__ import annotations

from aws_cdk.assertions import Match
from idp.passwords import MIN_PASSWORD_LENGTH

from tests.infra.conftest import DEPLOYED_INPUTS

WEB_SCOPES = [
    "openid",
    "email",
    "profile",
]  # what the web app uses; no phone, no aws.cognito.signin.user.admin


def test_user_pool_requires_totp_mfa_only_and_signs_in_with_email(synth_env):
    template = synth_env("sandbox").template("Idp")
    template.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "MfaConfiguration": "ON",
            "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            "UsernameAttributes": ["email"],
            "AutoVerifiedAttributes": ["email"],
            "Schema": Match.array_with(
                [
                    Match.object_like({"Name": "email", "Required": True}),
                    Match.object_like({"Name": "name", "Required": True}),
                ]
            ),
            "Policies": {
                "PasswordPolicy": Match.object_like(
                    # The local IdP enforces the same length, so what works locally works in AWS.
                    {"MinimumLength": MIN_PASSWORD_LENGTH, "RequireSymbols": True, "RequireUppercase": True}
                )
            },
            "UserPoolTier": "PLUS",
        },
    )


def test_no_sms_mfa_anywhere(synth_env):
    pool = next(iter(synth_env("sandbox").resources("Idp", "AWS::Cognito::UserPool").values()))
    assert "SMS_MFA" not in pool["Properties"]["EnabledMfas"]
    assert "SmsConfiguration" not in pool["Properties"]


def test_threat_protection_is_enforced(synth_env):
    pool = next(iter(synth_env("prod").resources("Idp", "AWS::Cognito::UserPool").values()))
    add_ons = pool["Properties"]["UserPoolAddOns"]
    assert "ENFORCED" in str(add_ons) or "FULL_FUNCTION" in str(add_ons)


def test_group_users_and_the_trigger_that_fills_it(synth_env):
    synth = synth_env("sandbox")
    template = synth.template("Idp")
    template.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "Users"})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "post_confirmation.handler",
            "Architectures": ["arm64"],
            "Runtime": Match.string_like_regexp(r"^python3\.\d+$"),
            "Environment": {"Variables": {"DEFAULT_GROUP": "Users"}},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "pre_token_generation.handler", "Architectures": ["arm64"]}
    )
    pool = next(iter(synth.resources("Idp", "AWS::Cognito::UserPool").values()))
    assert set(pool["Properties"]["LambdaConfig"]) == {"PostConfirmation", "PreTokenGeneration"}


def test_trigger_may_only_add_users_to_groups_of_this_pool(synth_env):
    synth = synth_env("sandbox")
    pool_id = next(iter(synth.resources("Idp", "AWS::Cognito::UserPool")))
    policies = synth.resources("Idp", "AWS::IAM::Policy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    group_access = [s for s in statements if s["Action"] == "cognito-idp:AdminAddUserToGroup"]
    assert group_access == [
        {
            "Action": "cognito-idp:AdminAddUserToGroup",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [pool_id, "Arn"]},
        }
    ]
    assert not any(s["Resource"] == "*" for s in statements)


def test_hosted_ui_domain_prefix_is_per_environment(synth_env, env_name):
    synth_env(env_name).template("Idp").has_resource_properties(
        "AWS::Cognito::UserPoolDomain", {"Domain": f"city-tasks-{env_name}"}
    )


def test_web_client_is_a_public_pkce_code_client_with_the_original_scopes(synth_env):
    synth_env("sandbox").template("Idp").has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "ClientName": "city-tasks-web",
            "GenerateSecret": False,
            "AllowedOAuthFlows": ["code"],
            "AllowedOAuthFlowsUserPoolClient": True,
            "AllowedOAuthScopes": WEB_SCOPES,
            "CallbackURLs": ["http://localhost:8100/auth/callback"],
            "LogoutURLs": ["http://localhost:8100/"],
            "SupportedIdentityProviders": ["COGNITO"],
            "RefreshTokenValidity": 43200,  # minutes: 30 days as the original
        },
    )


def test_web_client_callbacks_include_the_frontend_url_once_known(sandbox_deployed):
    # The web app's redirectUri and logoutUri (frontend/src/config.ts): /auth/callback and the site root.
    callbacks = ["http://localhost:8100/auth/callback", f"{DEPLOYED_INPUTS.frontend_url}/auth/callback"]
    logouts = sorted(["http://localhost:8100/", f"{DEPLOYED_INPUTS.frontend_url}/"])
    sandbox_deployed.template("Idp").has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {"ClientName": "city-tasks-web", "CallbackURLs": callbacks, "LogoutURLs": logouts},
    )


def test_prod_callbacks_use_the_configured_domain(synth_env):
    synth_env("prod").template("Idp").has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "ClientName": "city-tasks-web",
            "CallbackURLs": ["https://app.city-tasks.example.com/auth/callback"],
            "LogoutURLs": ["https://app.city-tasks.example.com/"],
        },
    )


def test_load_test_client_uses_client_credentials_on_the_api_resource_server(synth_env):
    synth = synth_env("sandbox")
    template = synth.template("Idp")
    server_id = next(iter(synth.resources("Idp", "AWS::Cognito::UserPoolResourceServer")))
    template.has_resource_properties(
        "AWS::Cognito::UserPoolResourceServer",
        {
            "Identifier": "city-tasks-api",
            "Scopes": Match.array_with([Match.object_like({"ScopeName": "tasks.read"})]),
        },
    )
    template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "ClientName": "city-tasks-loadtest",
            "GenerateSecret": True,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthScopes": [
                {"Fn::Join": ["", [{"Ref": server_id}, f"/tasks.{scope}"]]} for scope in ("read", "write")
            ],
        },
    )


def test_outputs_carry_what_the_other_stacks_need(synth_env):
    outputs = synth_env("sandbox").templates["Idp"]["Outputs"]
    assert {"UserPoolId", "Issuer", "JwksUrl", "WebClientId", "HostedUiDomain"} <= set(outputs)
    assert "/.well-known/jwks.json" in str(outputs["JwksUrl"]["Value"])


def test_prod_protects_the_user_pool_and_sandbox_does_not(synth_env):
    prod = synth_env("prod").template("Idp")
    prod.has_resource(
        "AWS::Cognito::UserPool",
        {"DeletionPolicy": "Retain", "Properties": Match.object_like({"DeletionProtection": "ACTIVE"})},
    )
    sandbox = synth_env("sandbox").template("Idp")
    sandbox.has_resource("AWS::Cognito::UserPool", {"DeletionPolicy": "Delete"})


def test_trigger_logs_have_the_configured_retention(synth_env, env_name):
    synth = synth_env(env_name)
    retention = {
        g["Properties"]["RetentionInDays"] for g in synth.resources("Idp", "AWS::Logs::LogGroup").values()
    }
    assert retention == {synth.config.log_retention_days}


def test_load_test_people_get_a_password_client_outside_prod_only(synth_env):
    password_client = {
        "ClientName": "city-tasks-loadtest-users",
        "ExplicitAuthFlows": Match.array_with(["ALLOW_USER_PASSWORD_AUTH"]),
    }
    sandbox = synth_env("sandbox").template("Idp")
    sandbox.has_resource_properties("AWS::Cognito::UserPoolClient", password_client)
    (props,) = [
        c["Properties"]
        for c in synth_env("sandbox").resources("Idp", "AWS::Cognito::UserPoolClient").values()
        if c["Properties"]["ClientName"] == "city-tasks-loadtest-users"
    ]
    # No OAuth at all: no implicit/code grants, scopes or https://example.com callback from CDK's defaults.
    assert not props.get("AllowedOAuthFlowsUserPoolClient")
    for key in ("AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs", "LogoutURLs"):
        assert not props.get(key), key
    assert "LoadTestUserClientId" in sandbox.find_outputs("*")
    prod = synth_env("prod").template("Idp")
    assert prod.find_resources("AWS::Cognito::UserPoolClient", {"Properties": password_client}) == {}
    assert "LoadTestUserClientId" not in prod.find_outputs("*")


def test_the_web_client_never_allows_password_auth(synth_env):
    clients = synth_env("sandbox").resources("Idp", "AWS::Cognito::UserPoolClient").values()
    web = next(c for c in clients if c["Properties"]["ClientName"] == "city-tasks-web")
    assert "ALLOW_USER_PASSWORD_AUTH" not in web["Properties"].get("ExplicitAuthFlows", [])
