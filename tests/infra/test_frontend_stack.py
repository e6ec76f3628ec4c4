"""The Frontend stack: private bucket, CloudFront with OAC, SPA routing, security headers, runtime config."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from aws_cdk.assertions import Annotations, Match

from tests.infra.conftest import DEPLOYED_INPUTS


def _asset_dirs(synth) -> list:
    return [p for p in synth.outdir.iterdir() if p.name.startswith("asset.") and p.is_dir()]


def test_site_bucket_is_private_and_encrypted(synth_env):
    synth_env("sandbox").template("Frontend").has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": Match.any_value(),
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "s3/"}),
        },
    )


def test_cloudfront_reads_the_bucket_through_origin_access_control(synth_env):
    synth = synth_env("sandbox")
    template = synth.template("Frontend")
    template.has_resource_properties(
        "AWS::CloudFront::OriginAccessControl",
        {
            "OriginAccessControlConfig": Match.object_like(
                {"SigningBehavior": "always", "OriginAccessControlOriginType": "s3"}
            )
        },
    )
    distribution = next(iter(synth.resources("Frontend", "AWS::CloudFront::Distribution").values()))
    (origin,) = distribution["Properties"]["DistributionConfig"]["Origins"]
    assert "OriginAccessControlId" in origin
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    # The bucket policy lets only this distribution read.
    statements = [
        s
        for policy in synth.resources("Frontend", "AWS::S3::BucketPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    distribution_id = next(iter(synth.resources("Frontend", "AWS::CloudFront::Distribution")))
    assert len(statements) == 1
    assert statements[0]["Action"] == "s3:GetObject"
    assert statements[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert {"Ref": distribution_id} in statements[0]["Condition"]["StringEquals"]["AWS:SourceArn"][
        "Fn::Join"
    ][1]


def _distribution(synth) -> dict:
    (distribution,) = synth.resources("Frontend", "AWS::CloudFront::Distribution").values()
    return distribution["Properties"]["DistributionConfig"]


def test_spa_routing_is_a_function_on_the_static_site_only(sandbox_deployed):
    """No distribution-wide error pages: the API's 403/404 problem+json must reach the browser as sent."""
    config = _distribution(sandbox_deployed)
    assert "CustomErrorResponses" not in config
    assert config["DefaultRootObject"] == "index.html"
    default = config["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    (association,) = default["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    assert function_id in sandbox_deployed.resources("Frontend", "AWS::CloudFront::Function")
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert "FunctionAssociations" not in behaviors["/api/*"]


@pytest.mark.parametrize(
    ("uri", "served"),
    [
        ("/tasks/42", "/index.html"),
        ("/auth/callback", "/index.html"),
        ("/", "/index.html"),
        ("/assets/app-1234.js", "/assets/app-1234.js"),
        ("/config.json", "/config.json"),
    ],
)
def test_the_spa_routing_function_rewrites_app_routes_and_keeps_files(sandbox_deployed, uri, served):
    (function,) = sandbox_deployed.resources("Frontend", "AWS::CloudFront::Function").values()
    code = function["Properties"]["FunctionCode"]
    script = code + f"\nprocess.stdout.write(handler({{request: {{uri: {json.dumps(uri)}}}}}).uri);"
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout == served


def test_waf_guards_the_distribution_with_managed_rules_and_a_rate_limit(synth_env, env_name):
    synth = synth_env(env_name)
    ((acl_id, acl),) = synth.resources("Frontend", "AWS::WAFv2::WebACL").items()
    props = acl["Properties"]
    assert props["Scope"] == "CLOUDFRONT"
    assert synth.stack("Frontend").region == "us-east-1"  # CloudFront web ACLs exist only there
    rules = {r["Name"]: r for r in props["Rules"]}
    assert set(rules) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "RateLimitPerIp",
    }
    rate = rules["RateLimitPerIp"]["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == synth.config.edge.rate_limit_per_ip
    assert rate["AggregateKeyType"] == "IP"
    assert rules["RateLimitPerIp"]["Action"] == {"Block": {}}
    assert _distribution(synth)["WebACLId"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def test_no_untrue_nag_acknowledgments(synth_env, env_name):
    """CFR2 (no WAF) and CFR5 (HTTP to the origin) are fixed, not acknowledged."""
    resources = synth_env(env_name).templates["Frontend"]["Resources"]
    acknowledged = {
        rule["id"]
        for r in resources.values()
        for rule in r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    }
    assert not acknowledged & {"AwsSolutions-CFR2", "AwsSolutions-CFR5"}


def test_security_headers(synth_env):
    synth = synth_env("sandbox")
    policy = next(iter(synth.resources("Frontend", "AWS::CloudFront::ResponseHeadersPolicy").values()))
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 365 * 24 * 3600
    csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp


def test_runtime_config_is_written_at_deploy_with_the_idp_and_api_values(sandbox_deployed):
    configs = [p / "config.json" for p in _asset_dirs(sandbox_deployed) if (p / "config.json").exists()]
    assert len(configs) == 1
    raw = configs[0].read_text()
    # Deploy-time values are markers that the deployment replaces (here: the distribution's own URL).
    config = json.loads(re.sub(r"<<marker:[^>]+>>", '"MARKER"', raw))
    assert config["authority"] == DEPLOYED_INPUTS.issuer
    assert config["clientId"] == DEPLOYED_INPUTS.web_client_id
    assert config["hostedUiDomain"] == DEPLOYED_INPUTS.hosted_ui_domain
    assert config["environment"] == "sandbox"
    # The web client allows only these scopes; the app's own default would also ask for user.admin.
    assert config["scope"] == "openid email profile"
    # The API is reached through CloudFront itself: the distribution's own URL, resolved at deploy.
    assert config["apiUrl"] == "MARKER"
    (deployment,) = sandbox_deployed.resources("Frontend", "Custom::CDKBucketDeployment").values()
    markers = {k: v for m in deployment["Properties"]["SourceMarkers"] for k, v in m.items()}
    distribution_id = next(iter(sandbox_deployed.resources("Frontend", "AWS::CloudFront::Distribution")))
    (api_url,) = markers.values()
    assert api_url == {"Fn::Join": ["", ['"https://', {"Fn::GetAtt": [distribution_id, "DomainName"]}, '"']]}


def test_the_api_goes_through_the_vpc_origin_over_https_only(sandbox_deployed):
    config = _distribution(sandbox_deployed)
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert behaviors["/api/*"]["ViewerProtocolPolicy"] == "https-only"
    assert "DELETE" in behaviors["/api/*"]["AllowedMethods"]
    api_origin = next(o for o in config["Origins"] if o["Id"] == behaviors["/api/*"]["TargetOriginId"])
    assert api_origin["VpcOriginConfig"]["VpcOriginId"] == DEPLOYED_INPUTS.api_origin_id
    assert api_origin["DomainName"] == DEPLOYED_INPUTS.api_origin_domain
    assert "CustomOriginConfig" not in api_origin  # no public origin at all


def test_index_and_config_are_never_cached(synth_env):
    distribution = next(
        iter(synth_env("sandbox").resources("Frontend", "AWS::CloudFront::Distribution").values())
    )
    behaviors = {
        b["PathPattern"]: b for b in distribution["Properties"]["DistributionConfig"]["CacheBehaviors"]
    }
    caching_disabled = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS managed policy CachingDisabled
    assert behaviors["/config.json"]["CachePolicyId"] == caching_disabled
    assert behaviors["/index.html"]["CachePolicyId"] == caching_disabled


def test_missing_build_deploys_a_placeholder_with_a_warning(synth_env):
    synth = synth_env("sandbox")
    pages = [p / "index.html" for p in _asset_dirs(synth) if (p / "index.html").exists()]
    assert len(pages) == 1
    assert "has not been built" in pages[0].read_text()
    Annotations.from_stack(synth.stack("Frontend")).has_warning("*", Match.string_like_regexp("placeholder"))


def test_built_frontend_is_shipped(sandbox_deployed):
    shipped = [p for p in _asset_dirs(sandbox_deployed) if (p / "assets" / "app-1234.js").exists()]
    assert len(shipped) == 1
    Annotations.from_stack(sandbox_deployed.stack("Frontend")).has_no_warning(
        "*", Match.string_like_regexp("placeholder")
    )


def test_prod_uses_its_domain_and_certificate(synth_env):
    synth = synth_env("prod")
    synth.template("Frontend").has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "Aliases": ["app.city-tasks.example.com"],
                    "ViewerCertificate": Match.object_like(
                        {
                            "AcmCertificateArn": synth.config.domains.frontend_certificate_arn,
                            "MinimumProtocolVersion": "TLSv1.2_2021",
                        }
                    ),
                }
            )
        },
    )
    assert (
        synth.templates["Frontend"]["Outputs"]["FrontendUrl"]["Value"] == "https://app.city-tasks.example.com"
    )
