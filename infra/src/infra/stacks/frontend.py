"""The Frontend stack (workload account): a private S3 bucket behind CloudFront with origin access control.

One build serves every environment: `config.json` (API URL, authority, hosted UI domain, client id) is written
at deploy time. When the API has no certificate (plain-HTTP ALB), CloudFront also routes `/api/*` to the
ALB so the HTTPS page never calls an HTTP origin (mixed content) and needs no CORS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.environments import Environment

PLACEHOLDER_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>City Tasks</title>"
    "<p>The web app has not been built yet: run the frontend build, then deploy again.</p></html>"
)
NO_CACHE_PATHS = ("/index.html", "/config.json")


class FrontendStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Environment,
        dist_dir: Path,
        runtime_config: dict[str, Any],
        api_origin_host: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        protect = config.protect_data
        removal = RemovalPolicy.RETAIN if protect else RemovalPolicy.DESTROY

        logs_bucket = s3.Bucket(
            self,
            "Logs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # CloudFront standard logging writes with ACLs.
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=removal,
        )
        acknowledge(logs_bucket, "S1", "This bucket receives the access logs; logging it again would loop.")
        self.bucket = s3.Bucket(
            self,
            "Site",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=protect,
            server_access_logs_bucket=logs_bucket,
            server_access_logs_prefix="s3/",
            removal_policy=removal,
        )

        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment=f"City Tasks {config.name} security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=_content_security_policy(runtime_config), override=True
                ),
            ),
        )
        site_origin = origins.S3BucketOrigin.with_origin_access_control(self.bucket)
        no_cache = cloudfront.BehaviorOptions(
            origin=site_origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            response_headers_policy=headers,
        )
        extra: dict[str, cloudfront.BehaviorOptions] = {path: no_cache for path in NO_CACHE_PATHS}
        if api_origin_host:
            extra["/api/*"] = cloudfront.BehaviorOptions(
                origin=origins.HttpOrigin(
                    api_origin_host, protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                response_headers_policy=headers,
            )

        domains = config.domains
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", domains.frontend_certificate_arn)
            if domains.frontend_certificate_arn
            else None
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"City Tasks web app ({config.name})",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=site_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                compress=True,
            ),
            additional_behaviors=extra,
            # SPA routing: unknown paths (S3 answers 403 through OAC) render the app shell.
            error_responses=[
                cloudfront.ErrorResponse(
                    http_status=status,
                    response_http_status=200,
                    response_page_path="/index.html",
                    ttl=Duration.seconds(0),
                )
                for status in (403, 404)
            ],
            domain_names=[domains.frontend_domain] if domains.frontend_domain else None,
            certificate=certificate,
            # Only a custom certificate can raise the TLS floor (the default one is fixed by CloudFront).
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=logs_bucket,
            log_file_prefix="cloudfront/",
        )
        self.url = (
            f"https://{domains.frontend_domain}"
            if domains.frontend_domain
            else f"https://{self.distribution.distribution_domain_name}"
        )
        if api_origin_host:
            runtime_config = {**runtime_config, "apiUrl": self.url}

        if domains.frontend_domain and domains.hosted_zone_id and domains.hosted_zone_name:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=domains.hosted_zone_id, zone_name=domains.hosted_zone_name
            )
            route53.ARecord(
                self,
                "SiteAlias",
                zone=zone,
                record_name=domains.frontend_domain,
                target=route53.RecordTarget.from_alias(targets.CloudFrontTarget(self.distribution)),
            )

        index_html = dist_dir / "index.html"
        if index_html.is_file():
            site_source = s3deploy.Source.asset(str(dist_dir))
        else:
            site_source = s3deploy.Source.data("index.html", PLACEHOLDER_PAGE)
            Annotations.of(self).add_warning_v2(
                "city:frontend-not-built",
                f"{index_html} does not exist: a placeholder page is deployed. Build the frontend first.",
            )
        self.deployment = s3deploy.BucketDeployment(
            self,
            "DeploySite",
            destination_bucket=self.bucket,
            sources=[site_source, s3deploy.Source.json_data("config.json", runtime_config)],
            # Old hashed bundles stay so that open tabs keep loading their chunks after a deploy.
            prune=False,
            distribution=self.distribution,
            distribution_paths=list(NO_CACHE_PATHS),
            memory_limit=512,
        )

        CfnOutput(self, "FrontendUrl", value=self.url)
        CfnOutput(self, "DistributionId", value=self.distribution.distribution_id)
        CfnOutput(self, "BucketName", value=self.bucket.bucket_name)
        self._acknowledge(config)
        if api_origin_host:
            acknowledge(
                self.distribution,
                "CFR5",
                "/api/* goes to the plain-HTTP ALB only while no API certificate is configured (sandbox); "
                "set domains.api_certificate_arn to serve the API over HTTPS directly.",
            )

    def _acknowledge(self, config: Environment) -> None:
        acknowledge(
            self.distribution,
            "CFR1",
            "A task list for residents: no country needs blocking; sign-in is behind Cognito with MFA.",
        )
        acknowledge(
            self.distribution,
            "CFR2",
            "Static files only; the API and the IdP have their own protections (Cognito threat protection).",
        )
        # The deployment Lambda is CDK's own singleton (runtime and policies chosen by aws-cdk-lib).
        handler = next(
            child for child in self.node.children if child.node.id.startswith("Custom::CDKBucketDeployment")
        )
        acknowledge(handler, "L1", "CDK's BucketDeployment handler; its runtime is pinned by aws-cdk-lib.")
        role = self.deployment.handler_role
        acknowledge(
            role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's BucketDeployment handler only writes its own logs with this managed policy.",
        )
        for finding in (
            "Resource::*",
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:DeleteObject*",
            "Action::s3:Abort*",
            f"Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-{config.workload.account}-"
            f"{config.workload.region}/*",
            f"Resource::<{self.get_logical_id(self.bucket.node.default_child)}.Arn>/*",  # type: ignore[arg-type]
        ):
            acknowledge(
                role,
                f"IAM5[{finding}]",
                "CDK's BucketDeployment copies the build from the CDK asset bucket into the site bucket: "
                "these grants are scoped to those two buckets (Resource::* is CloudFront invalidation).",
            )
        if not config.domains.frontend_certificate_arn:
            acknowledge(
                self.distribution,
                "CFR4",
                "Without a custom domain CloudFront's default certificate is used, which allows TLSv1; "
                "configure domains.frontend_certificate_arn to enforce TLS 1.2.",
            )


def _content_security_policy(runtime_config: dict[str, Any]) -> str:
    # The SPA talks to its API and to Cognito (token endpoint, JWKS); nothing else.
    connect = ["'self'", "https://*.amazoncognito.com"]
    for key in ("authority", "apiUrl"):
        parts = urlsplit(str(runtime_config.get(key) or ""))
        if parts.scheme == "https" and parts.netloc:
            connect.append(f"https://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            f"connect-src {' '.join(connect)}",
            "img-src 'self' data:",
            "style-src 'self' 'unsafe-inline'",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            "form-action 'self' https://*.amazoncognito.com",
        ]
    )
