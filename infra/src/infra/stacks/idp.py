"""The IdP stack (Security account): the Cognito user pool the original built with Amplify, done in CDK."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.python_function import PythonFunction
from infra.constructs.retention import retention as log_retention
from infra.environments import Environment

DEFAULT_GROUP = "Users"
API_RESOURCE_SERVER = "city-tasks-api"
# Only what the web app uses: the ID token's name and e-mail (frontend/src/auth). The original also asked
# for phone and aws.cognito.signin.user.admin (which lets the token change the user's own attributes).
WEB_SCOPE_NAMES = ("openid", "email", "profile")
WEB_SCOPES = tuple(cognito.OAuthScope.custom(name) for name in WEB_SCOPE_NAMES)


class IdpStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Environment,
        triggers_dir: Path,
        frontend_url: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        retention = log_retention(config.log_retention_days)

        post_confirmation = PythonFunction(
            self,
            "PostConfirmation",
            source=triggers_dir,
            handler="post_confirmation.handler",
            log_retention=retention,
            environment={"DEFAULT_GROUP": DEFAULT_GROUP},
        )
        pre_token = PythonFunction(
            self,
            "PreTokenGeneration",
            source=triggers_dir,
            handler="pre_token_generation.handler",
            log_retention=retention,
        )

        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"city-tasks-{config.name}",
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            self_sign_up_enabled=True,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True),
                fullname=cognito.StandardAttribute(required=True, mutable=True),
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False, email=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            user_verification=cognito.UserVerificationConfig(email_style=cognito.VerificationEmailStyle.CODE),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            lambda_triggers=cognito.UserPoolTriggers(
                post_confirmation=post_confirmation.function,
                pre_token_generation=pre_token.function,
            ),
            deletion_protection=config.protect_data,
            removal_policy=RemovalPolicy.RETAIN if config.protect_data else RemovalPolicy.DESTROY,
        )
        cognito.CfnUserPoolGroup(
            self,
            "UsersGroup",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=DEFAULT_GROUP,
            description="Every confirmed user (added by the post-confirmation trigger).",
        )
        # A separate policy (not the role's default policy) keeps the pool -> function -> role chain acyclic.
        iam.Policy(
            self,
            "PostConfirmationGroupAccess",
            roles=[post_confirmation.role],
            statements=[
                iam.PolicyStatement(
                    actions=["cognito-idp:AdminAddUserToGroup"], resources=[self.user_pool.user_pool_arn]
                )
            ],
        )

        self.domain = self.user_pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=config.hosted_ui_domain_prefix),
        )

        read = cognito.ResourceServerScope(scope_name="tasks.read", scope_description="Read tasks")
        write = cognito.ResourceServerScope(scope_name="tasks.write", scope_description="Change tasks")
        api = self.user_pool.add_resource_server(
            "Api",
            identifier=API_RESOURCE_SERVER,
            user_pool_resource_server_name="City Tasks API",
            scopes=[read, write],
        )

        urls = list(config.local_callback_urls)
        if frontend_url:
            urls.append(frontend_url.rstrip("/") + config.callback_path)
        self.web_client = self.user_pool.add_client(
            "WebClient",
            user_pool_client_name="city-tasks-web",
            generate_secret=False,  # a browser app: public client, authorization code + PKCE
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=list(WEB_SCOPES),
                callback_urls=urls,
                # The web app signs out back to its own root (frontend/src/config.ts: logoutUri).
                logout_urls=sorted({_site_root(url) for url in urls}),
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )
        self.load_test_client = self.user_pool.add_client(
            "LoadTestClient",
            user_pool_client_name="city-tasks-loadtest",
            generate_secret=True,  # confidential: client_credentials for the load generator only
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(client_credentials=True),
                scopes=[
                    cognito.OAuthScope.resource_server(api, read),
                    cognito.OAuthScope.resource_server(api, write),
                ],
            ),
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
        )

        # Load-test people sign in like the app's users (password, then the TOTP challenge) without a
        # browser, which needs USER_PASSWORD_AUTH: a separate client, so the web client stays SRP-only.
        self.load_test_user_client = (
            self.user_pool.add_client(
                "LoadTestUserClient",
                user_pool_client_name="city-tasks-loadtest-users",
                generate_secret=False,
                auth_flows=cognito.AuthFlow(user_password=True),
                # No hosted-UI flows, scopes or callback URLs (CDK's default is implicit + code grants
                # redirecting to https://example.com): this client only signs in with a password.
                disable_o_auth=True,
                prevent_user_existence_errors=True,
                enable_token_revocation=True,
                access_token_validity=Duration.hours(1),
                id_token_validity=Duration.hours(1),
                refresh_token_validity=Duration.days(1),
            )
            if config.load_test_user_client
            else None
        )

        issuer = self.user_pool.user_pool_provider_url
        CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        CfnOutput(self, "Issuer", value=issuer)
        CfnOutput(self, "JwksUrl", value=f"{issuer}/.well-known/jwks.json")
        CfnOutput(self, "WebClientId", value=self.web_client.user_pool_client_id)
        CfnOutput(self, "LoadTestClientId", value=self.load_test_client.user_pool_client_id)
        if self.load_test_user_client is not None:
            CfnOutput(self, "LoadTestUserClientId", value=self.load_test_user_client.user_pool_client_id)
        CfnOutput(self, "HostedUiDomain", value=self.domain.base_url())
        CfnOutput(self, "CallbackUrls", value=",".join(urls))


def _site_root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"
