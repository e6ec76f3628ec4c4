"""The CDK app: one environment's three stacks, checked by cdk-nag, synthesized without any AWS lookup.

The CDK CLI runs it through infra/cdk.json and `infra.cdk_main` (`-c env=sandbox`). Values that only exist
after an earlier stack is deployed (the IdP's issuer and client id, the API and frontend URLs) come in as
context from deploy.py; without them synth still works and uses clearly marked placeholders, with a warning
on the stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.environments import Environment
from infra.stacks.frontend import ApiOrigin, FrontendStack
from infra.stacks.idp import WEB_SCOPE_NAMES, IdpStack
from infra.stacks.tasks import TasksStack

REPO_ROOT = Path(__file__).resolve().parents[3]
TRIGGERS_DIR = REPO_ROOT / "services" / "idp" / "src" / "idp" / "triggers"
FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"
PENDING = "pending-idp-deploy"


@dataclass(frozen=True)
class DeployInputs:
    """Outputs of earlier stacks, passed forward by deploy.py as CDK context (all optional)."""

    issuer: str | None = None
    client_ids: tuple[str, ...] = ()
    web_client_id: str | None = None
    hosted_ui_domain: str | None = None
    # The Tasks stack's CloudFront VPC origin (internal ALB) and the name CloudFront uses for it.
    api_origin_id: str | None = None
    api_origin_domain: str | None = None
    frontend_url: str | None = None
    # The API image by digest (the pipeline's build); None builds it from the working tree.
    api_image: str | None = None

    CONTEXT_KEYS = {
        "issuer": "issuer",
        "clientIds": "client_ids",
        "webClientId": "web_client_id",
        "hostedUiDomain": "hosted_ui_domain",
        "apiOriginId": "api_origin_id",
        "apiOriginDomain": "api_origin_domain",
        "frontendUrl": "frontend_url",
        "apiImage": "api_image",
    }

    @classmethod
    def from_context(cls, node: object) -> DeployInputs:
        values: dict[str, object] = {}
        for key, attr in cls.CONTEXT_KEYS.items():
            raw = node.try_get_context(key)  # type: ignore[attr-defined]
            if raw in (None, ""):
                continue
            if attr == "client_ids":
                raw = tuple(part.strip() for part in str(raw).split(",") if part.strip())
            values[attr] = raw
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CityTasksStacks:
    app: cdk.App
    idp: IdpStack
    tasks: TasksStack
    frontend: FrontendStack


def build_app(
    config: Environment,
    *,
    app: cdk.App | None = None,
    inputs: DeployInputs | None = None,
    frontend_dist: Path = FRONTEND_DIST,
    with_nag: bool = True,
) -> CityTasksStacks:
    """Define the three stacks of one environment on `app` (a new App when None)."""
    app = app or cdk.App()
    inputs = inputs or DeployInputs.from_context(app.node)
    frontend_url = inputs.frontend_url or (
        f"https://{config.domains.frontend_domain}" if config.domains.frontend_domain else None
    )
    tags = {"project": "city-tasks", "environment": config.name}

    idp = IdpStack(
        app,
        config.stack_name("Idp"),
        config=config,
        triggers_dir=TRIGGERS_DIR,
        frontend_url=frontend_url,
        env=cdk.Environment(account=config.security.account, region=config.security.region),
        description=f"City Tasks identity provider (Cognito) for {config.name}",
        tags=tags,
    )
    issuer = inputs.issuer or (
        f"https://cognito-idp.{config.security.region}.amazonaws.com/{config.security.region}_{PENDING}"
    )
    tasks = TasksStack(
        app,
        config.stack_name("Tasks"),
        config=config,
        repo_root=REPO_ROOT,
        auth_issuer=issuer,
        auth_client_ids=inputs.client_ids or (PENDING,),
        cors_origins=(frontend_url,) if frontend_url else (),
        public_url=frontend_url,
        api_image=inputs.api_image,
        env=cdk.Environment(account=config.workload.account, region=config.workload.region),
        description=f"City Tasks API (ECS Fargate, Aurora Serverless v2) for {config.name}",
        tags=tags,
    )
    frontend = FrontendStack(
        app,
        config.stack_name("Frontend"),
        config=config,
        dist_dir=frontend_dist,
        api_origin=(
            ApiOrigin(
                inputs.api_origin_id, inputs.api_origin_domain, https=bool(config.domains.api_certificate_arn)
            )
            if inputs.api_origin_id and inputs.api_origin_domain
            else None
        ),
        runtime_config={
            "authority": issuer,  # the key the web app reads (frontend/src/config.ts)
            "hostedUiDomain": inputs.hosted_ui_domain or "",
            "clientId": inputs.web_client_id or "",
            # The scopes the web client may ask for (frontend/src/config.ts reads `scope`).
            "scope": " ".join(WEB_SCOPE_NAMES),
            "environment": config.name,
        },
        env=cdk.Environment(account=config.workload.account, region=config.workload.region),
        description=f"City Tasks web app hosting (S3 + CloudFront) for {config.name}",
        tags=tags,
    )
    if inputs.issuer is None or not inputs.client_ids:
        cdk.Annotations.of(tasks).add_warning_v2(
            "city:pending-idp",
            "No IdP outputs in context (issuer, clientIds): the API would reject every token. "
            "Deploy with `make deploy`, which passes them forward.",
        )
    if with_nag:
        # Acknowledgments are also written into the templates (cdk_nag metadata) as an audit trail.
        cdk.Validations.of(app).add_plugins(
            AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
        )
    return CityTasksStacks(app=app, idp=idp, tasks=tasks, frontend=frontend)
