"""The Frontend stack: private bucket, CloudFront with OAC, SPA routing, security headers, runtime config."""

from __future__ import annotations

import json
import re

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


def test_spa_routing_and_https(synth_env):
    synth_env("sandbox").template("Frontend").has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "DefaultRootObject": "index.html",
                    "CustomErrorResponses": [
                        {
                            "ErrorCode": code,
                            "ResponseCode": 200,
                            "ResponsePagePath": "/index.html",
                            "ErrorCachingMinTTL": 0,
                        }
                        for code in (403, 404)
                    ],
                    "DefaultCacheBehavior": Match.object_like({"ViewerProtocolPolicy": "redirect-to-https"}),
                }
            )
        },
    )


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
    # A plain-HTTP API is reached through CloudFront itself: the distribution's own URL, resolved at deploy.
    assert config["apiUrl"] == "MARKER"
    (deployment,) = sandbox_deployed.resources("Frontend", "Custom::CDKBucketDeployment").values()
    markers = {k: v for m in deployment["Properties"]["SourceMarkers"] for k, v in m.items()}
    distribution_id = next(iter(sandbox_deployed.resources("Frontend", "AWS::CloudFront::Distribution")))
    (api_url,) = markers.values()
    assert api_url == {"Fn::Join": ["", ['"https://', {"Fn::GetAtt": [distribution_id, "DomainName"]}, '"']]}


def test_plain_http_api_is_proxied_under_api_path(sandbox_deployed):
    distribution = next(
        iter(sandbox_deployed.resources("Frontend", "AWS::CloudFront::Distribution").values())
    )
    config = distribution["Properties"]["DistributionConfig"]
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert behaviors["/api/*"]["ViewerProtocolPolicy"] == "https-only"
    assert "DELETE" in behaviors["/api/*"]["AllowedMethods"]
    api_origin = next(o for o in config["Origins"] if o["Id"] == behaviors["/api/*"]["TargetOriginId"])
    assert api_origin["DomainName"] == DEPLOYED_INPUTS.api_url.removeprefix("http://")
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"


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
