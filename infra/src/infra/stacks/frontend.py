"""The Frontend stack (workload account): the one public entry. CloudFront serves the web app from a private
S3 bucket (origin access control) and `/api/*` from the Tasks stack's internal ALB through a CloudFront VPC
origin, so the API is reachable only through CloudFront over HTTPS; AWS WAF (managed common rules, known bad
inputs and a per-IP rate limit) guards both. SPA routing is a CloudFront Function on the static site only,
so the API's errors (404 problem+json...) reach the browser untouched.

One build serves every environment: `config.json` (API URL = this distribution, authority, hosted UI domain,
client id, scopes) is written at deploy time.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.environments import Environment

PLACEHOLDER_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>City Tasks</title>"
    "<p>The web app has not been built yet: run the frontend build, then deploy again.</p></html>"
)
NO_CACHE_PATHS = ("/index.html", "/config.json")
# Viewer-request rewrite for the static site only: a path whose last segment has no file extension is an
# app route and gets the app shell; files (assets, config.json) and everything under /api/* are untouched.
SPA_ROUTING_FUNCTION = """function handler(event) {
  var request = event.request;
  var last = request.uri.split('/').pop();
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"""
# AWS WAF for CloudFront lives in us-east-1 only.
WAF_REGION = "us-east-1"


@dataclass(frozen=True)
class ApiOrigin:
    """The Tasks stack's CloudFront VPC origin (its internal ALB) and the name CloudFront connects with."""

    vpc_origin_id: str
    domain_name: str
    https: bool


class FrontendStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Environment,
        dist_dir: Path,
        runtime_config: dict[str, Any],
        api_origin: ApiOrigin | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if self.region != WAF_REGION:
            raise ValueError(
                f"{config.name}: the Frontend stack holds the CloudFront web ACL, which AWS WAF accepts "
                f"only in {WAF_REGION}; set the workload region to {WAF_REGION} in "
                "infra/config/environments.yaml"
            )
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
        if api_origin is not None:
            extra["/api/*"] = cloudfront.BehaviorOptions(
                origin=origins.VpcOrigin.with_vpc_origin(
                    cloudfront.VpcOrigin.from_vpc_origin_id(self, "ApiVpcOrigin", api_origin.vpc_origin_id),
                    domain_name=api_origin.domain_name,
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                response_headers_policy=headers,
            )
        else:
            Annotations.of(self).add_warning_v2(
                "city:pending-api-origin",
                "No apiOriginId/apiOriginDomain in context: /api/* is not routed. Deploy with `make deploy`.",
            )
        spa_routing = cloudfront.Function(
            self,
            "SpaRouting",
            code=cloudfront.FunctionCode.from_inline(SPA_ROUTING_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="App routes get the app shell; files and /api/* are untouched",
        )
        self.web_acl = self._web_acl(config)

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
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=spa_routing, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors=extra,
            # No distribution-wide error responses: they would turn the API's 403/404 into the app shell.
            web_acl_id=self.web_acl.attr_arn,
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
        # The API is this distribution's /api/*: same origin, no CORS, no mixed content.
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
        CfnOutput(self, "WebAclArn", value=self.web_acl.attr_arn)
        self._acknowledge(config)

    def _web_acl(self, config: Environment) -> wafv2.CfnWebACL:
        """Managed common rules and known bad inputs, and a per-IP rate limit (5-minute window)."""

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        def managed(name: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name
                    )
                ),
                visibility_config=visibility(name),
            )

        rate_limit = wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerIp",
            priority=2,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    limit=config.edge.rate_limit_per_ip, aggregate_key_type="IP", evaluation_window_sec=300
                )
            ),
            visibility_config=visibility("RateLimitPerIp"),
        )
        return wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=[
                managed("AWSManagedRulesCommonRuleSet", 0),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 1),
                rate_limit,
            ],
            visibility_config=visibility(f"city-tasks-{config.name}"),
        )

    def _acknowledge(self, config: Environment) -> None:
        acknowledge(
            self.distribution,
            "CFR1",
            "A task list for residents: no country needs blocking; sign-in is behind Cognito with MFA.",
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
