"""Typed deployment environments (sandbox, dev, test, prod) loaded from infra/config/environments.yaml.

Everything a stack needs is here, so synth never looks anything up in AWS. Unknown or missing keys and
impossible sizes are rejected with a message that names the file, the environment and the key.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "environments.yaml"
ENVIRONMENT_NAMES = ("sandbox", "dev", "test", "prod")

# Fargate's valid cpu -> memory (MiB) combinations, so a typo fails at load time and not in CloudFormation.
_FARGATE_MEMORY: dict[int, range] = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
}
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?$")


class ConfigError(ValueError):
    """The environments file is wrong; the message says where and how to fix it."""


@dataclass(frozen=True)
class AwsTarget:
    """An account, its region and the local AWS CLI profile that deploys to it."""

    account: str
    profile: str
    region: str = "us-east-1"
    # The account's name in infra/org/organization.yaml: the preflight finds its OU chain (and SCPs) by it.
    org_account: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.account, str) or not _ACCOUNT.match(self.account):
            raise ConfigError(f"account must be 12 digits (quote it in YAML), got {self.account!r}")
        if not _REGION.match(self.region):
            raise ConfigError(f"region {self.region!r} is not an AWS region name such as us-east-1")
        if not self.profile:
            raise ConfigError("profile must name an AWS CLI profile")


@dataclass(frozen=True)
class ServiceSizes:
    """The Fargate service: task size, task count and autoscaling targets."""

    cpu: int
    memory_mib: int
    min_tasks: int
    max_tasks: int
    cpu_target_percent: int = 70
    # ALBRequestCountPerTarget: requests per target per minute; None turns the request-count policy off.
    requests_per_target: int | None = 1000
    scale_out_cooldown_seconds: int = 60
    scale_in_cooldown_seconds: int = 120
    # The planned peak (requests/s) that max_tasks is sized for (infra/scaling_targets.py).
    peak_requests_per_second: float | None = None

    def __post_init__(self) -> None:
        allowed = _FARGATE_MEMORY.get(self.cpu)
        if allowed is None:
            raise ConfigError(f"service.cpu must be one of {sorted(_FARGATE_MEMORY)}, got {self.cpu}")
        if self.memory_mib not in allowed:
            raise ConfigError(
                f"service.memory_mib {self.memory_mib} is not valid for cpu {self.cpu} "
                f"(use {allowed.start}..{allowed.stop - 1} in steps of {allowed.step})"
            )
        if not 1 <= self.min_tasks <= self.max_tasks:
            raise ConfigError(
                f"service needs 1 <= min_tasks <= max_tasks, got {self.min_tasks}..{self.max_tasks}"
            )
        if not 10 <= self.cpu_target_percent <= 95:
            raise ConfigError(f"service.cpu_target_percent must be 10..95, got {self.cpu_target_percent}")
        if self.requests_per_target is not None and self.requests_per_target < 1:
            raise ConfigError("service.requests_per_target must be positive or null (off)")
        for name in ("scale_out_cooldown_seconds", "scale_in_cooldown_seconds"):
            if not 0 <= getattr(self, name) <= 3600:
                raise ConfigError(f"service.{name} must be 0..3600, got {getattr(self, name)}")
        if self.peak_requests_per_second is not None and self.peak_requests_per_second <= 0:
            raise ConfigError("service.peak_requests_per_second must be positive")


@dataclass(frozen=True)
class DatabaseSizes:
    """Aurora Serverless v2 capacity (ACU); min 0 lets a quiet cluster pause."""

    min_acu: float
    max_acu: float
    readers: int = 0
    backup_retention_days: int = 7

    def __post_init__(self) -> None:
        for name, value in (("min_acu", self.min_acu), ("max_acu", self.max_acu)):
            if value * 2 != int(value * 2):
                raise ConfigError(f"database.{name} must be a multiple of 0.5, got {value}")
        if not 0 <= self.min_acu <= self.max_acu <= 256 or self.max_acu < 1:
            raise ConfigError(
                "database needs 0 <= min_acu <= max_acu <= 256 and max_acu >= 1, "
                f"got {self.min_acu}..{self.max_acu}"
            )
        if not 0 <= self.readers <= 15:
            raise ConfigError(f"database.readers must be 0..15, got {self.readers}")
        if not 1 <= self.backup_retention_days <= 35:
            raise ConfigError(
                f"database.backup_retention_days must be 1..35, got {self.backup_retention_days}"
            )


@dataclass(frozen=True)
class Domains:
    """Optional custom names. Certificates are referenced by ARN so that nothing is looked up at synth."""

    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    api_domain: str | None = None
    api_certificate_arn: str | None = None
    frontend_domain: str | None = None
    frontend_certificate_arn: str | None = None

    def __post_init__(self) -> None:
        for kind in ("api", "frontend"):
            domain = getattr(self, f"{kind}_domain")
            cert = getattr(self, f"{kind}_certificate_arn")
            if domain and not cert:
                raise ConfigError(f"domains.{kind}_domain needs domains.{kind}_certificate_arn")
            if cert and not cert.startswith("arn:aws:acm:"):
                raise ConfigError(f"domains.{kind}_certificate_arn must be an ACM certificate ARN")
            if domain and not (self.hosted_zone_id and self.hosted_zone_name):
                raise ConfigError(f"domains.{kind}_domain needs hosted_zone_id and hosted_zone_name")
        if self.frontend_certificate_arn and ":us-east-1:" not in self.frontend_certificate_arn:
            raise ConfigError(
                "domains.frontend_certificate_arn must be in us-east-1 (CloudFront requires it)"
            )


# Fargate's ceiling for a container's stopTimeout.
_MAX_STOP_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Shutdown:
    """How a task leaves, from one set of numbers; the ALB and ECS settings are derived from them.

    On a scale-in or deploy ECS deregisters the task and waits for the target group's deregistration delay
    (the load balancer stops sending new requests and lets in-flight ones finish), then sends SIGTERM. The
    app keeps serving for `drain_seconds` (readiness 503, in case a load balancer node still routes to it),
    then stops accepting and gives in-flight requests up to `graceful_shutdown_seconds`. SIGKILL comes at
    the container's stopTimeout. `margin_seconds` is the slack added to each derived value.
    """

    drain_seconds: int = 5
    graceful_shutdown_seconds: int = 10
    margin_seconds: int = 5

    def __post_init__(self) -> None:
        for name in ("drain_seconds", "graceful_shutdown_seconds", "margin_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"shutdown.{name} must be a whole number of seconds >= 0, got {value!r}")
        if self.margin_seconds < 1:
            raise ConfigError("shutdown.margin_seconds must be at least 1")
        if self.stop_timeout_seconds > _MAX_STOP_TIMEOUT_SECONDS:
            raise ConfigError(
                f"shutdown: drain_seconds + graceful_shutdown_seconds + margin_seconds = "
                f"{self.stop_timeout_seconds} s, above Fargate's {_MAX_STOP_TIMEOUT_SECONDS} s stopTimeout"
            )

    @property
    def deregistration_delay_seconds(self) -> int:
        """Covers the drain: no load balancer node still routes to the task when its drain ends."""
        return self.drain_seconds + self.margin_seconds

    @property
    def stop_timeout_seconds(self) -> int:
        """Exceeds drain + graceful shutdown, so SIGKILL never cuts a request the app is finishing."""
        return self.drain_seconds + self.graceful_shutdown_seconds + self.margin_seconds


@dataclass(frozen=True)
class Edge:
    """The CloudFront entry's AWS WAF: requests one IP may make in 5 minutes before it is blocked."""

    rate_limit_per_ip: int = 2000

    def __post_init__(self) -> None:
        if not 10 <= self.rate_limit_per_ip <= 2_000_000_000:
            raise ConfigError(f"edge.rate_limit_per_ip must be 10..2000000000, got {self.rate_limit_per_ip}")


@dataclass(frozen=True)
class Scheduler:
    """The scheduler runs as its own small ECS service (`tasks-api worker`), never inside the API tasks.

    `worker_tasks: 0` stops it: nothing polls the database then, so an Aurora cluster with min_acu 0 can
    pause (scheduled tasks do not fire meanwhile). Executions stay exactly-once with several workers.
    """

    worker_tasks: int = 1
    cpu: int = 256
    memory_mib: int = 512
    # A claimed batch is someone else's after this long; the worker finishes its batch in half of it on
    # SIGTERM, so its stopTimeout is derived from it (worker_stop_timeout_seconds).
    lease_seconds: int = 60

    def __post_init__(self) -> None:
        if not 0 <= self.worker_tasks <= 4:
            raise ConfigError(f"scheduler.worker_tasks must be 0..4, got {self.worker_tasks}")
        allowed = _FARGATE_MEMORY.get(self.cpu)
        if allowed is None or self.memory_mib not in allowed:
            raise ConfigError(
                f"scheduler: cpu {self.cpu} / memory_mib {self.memory_mib} is not a Fargate size"
            )
        if not 10 <= self.lease_seconds <= 2 * (_MAX_STOP_TIMEOUT_SECONDS - 10):
            raise ConfigError(f"scheduler.lease_seconds must be 10..220, got {self.lease_seconds}")

    def worker_stop_timeout_seconds(self, margin_seconds: int) -> int:
        return min(self.lease_seconds // 2 + margin_seconds, _MAX_STOP_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class Environment:
    """One deployment: the workload account and the Security account that hosts its IdP."""

    name: str
    workload: AwsTarget
    security: AwsTarget
    alarm_email: str
    service: ServiceSizes
    database: DatabaseSizes
    nat_gateways: int = 1
    log_retention_days: int = 30
    # Prod: deletion protection on the database and user pool, data kept when a stack is deleted.
    protect_data: bool = False
    # A password-auth app client for load-test people (USER_PASSWORD_AUTH + TOTP); never in prod.
    load_test_user_client: bool = True
    time_zone: str = "UTC"
    hosted_ui_prefix: str = "city-tasks"
    local_callback_urls: tuple[str, ...] = ()
    # Where the web app receives the authorization code, appended to the frontend URL (the web app's
    # default redirectUri; the original Ionic app used /home/).
    callback_path: str = "/auth/callback"
    domains: Domains = field(default_factory=Domains)
    shutdown: Shutdown = field(default_factory=Shutdown)
    scheduler: Scheduler = field(default_factory=Scheduler)
    edge: Edge = field(default_factory=Edge)

    def __post_init__(self) -> None:
        if self.name not in ENVIRONMENT_NAMES:
            raise ConfigError(f"environment {self.name!r} is not one of {', '.join(ENVIRONMENT_NAMES)}")
        if not 1 <= self.nat_gateways <= 2:
            raise ConfigError(f"nat_gateways must be 1 or 2 (the VPC has 2 AZs), got {self.nat_gateways}")
        if "@" not in self.alarm_email:
            raise ConfigError(f"alarm_email {self.alarm_email!r} is not an e-mail address")
        if not _PREFIX.match(self.hosted_ui_prefix):
            raise ConfigError("hosted_ui_prefix must be lowercase letters, digits and hyphens")
        if not self.callback_path.startswith("/"):
            raise ConfigError(f"callback_path must start with '/', got {self.callback_path!r}")
        if self.log_retention_days not in _LOG_RETENTION_DAYS:
            raise ConfigError(f"log_retention_days must be one of {sorted(_LOG_RETENTION_DAYS)}")

    @property
    def hosted_ui_domain_prefix(self) -> str:
        """Cognito domain prefixes are global: the environment name keeps them apart."""
        return f"{self.hosted_ui_prefix}-{self.name}"

    def stack_name(self, kind: str) -> str:
        return f"CityTasks-{kind}-{self.name}"


# CloudWatch Logs accepts only these retention periods.
_LOG_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}


def _build(cls: type, data: Any, where: str) -> Any:
    """Build a (nested) dataclass from a mapping, naming the path of any unknown or missing key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        target = _dataclass_in(hint)
        if target is not None and value is not None:
            value = _build(target, value, f"{where}.{name}")
        elif _is_tuple(hint):
            value = tuple(value or ())
        values[name] = value
    try:
        return cls(**values)
    except TypeError as exc:  # a required key is missing
        raise ConfigError(f"{where}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _dataclass_in(hint: Any) -> type | None:
    candidates = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return next((c for c in candidates if isinstance(c, type) and dataclasses.is_dataclass(c)), None)


def _is_tuple(hint: Any) -> bool:
    return typing.get_origin(hint) is tuple


def load_environments(path: Path = CONFIG_FILE) -> dict[str, Environment]:
    """Read every environment; `defaults` fills the keys an environment leaves out (region: both targets)."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("environments"), dict):
        raise ConfigError(f"{path}: needs a top-level 'environments' mapping")
    defaults = dict(raw.get("defaults") or {})
    region = defaults.pop("region", "us-east-1")
    result: dict[str, Environment] = {}
    for name, body in raw["environments"].items():
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: environments.{name}: expected a mapping")
        merged = {**defaults, **body, "name": name}
        for target in ("workload", "security"):
            if isinstance(merged.get(target), dict):
                merged[target] = {"region": region, **merged[target]}
        result[name] = _build(Environment, merged, f"{path.name}: environments.{name}")
    missing = [n for n in ENVIRONMENT_NAMES if n not in result]
    if missing:
        raise ConfigError(f"{path}: missing environment(s) {', '.join(missing)}")
    return result


def get_environment(name: str, path: Path = CONFIG_FILE) -> Environment:
    environments = load_environments(path)
    if name not in environments:
        raise ConfigError(f"unknown environment {name!r}; choose one of {', '.join(ENVIRONMENT_NAMES)}")
    return environments[name]


# --- delivery pipelines (`pipelines:` in the same file) ---------------------------------------------------

_CONNECTION_ARN = re.compile(
    r"^arn:aws:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)
_REPOSITORY = re.compile(r"^[\w.-]+/[\w.-]+$")
_QUALIFIER = re.compile(r"^[a-z0-9]{1,10}$")


@dataclass(frozen=True)
class PipelineSide:
    """One Deployments account and the environments its pipeline deploys, in order."""

    deployments: AwsTarget
    environments: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.environments:
            raise ConfigError("environments must name at least one environment to deploy")
        unknown = [name for name in self.environments if name not in ENVIRONMENT_NAMES]
        if unknown:
            raise ConfigError(
                f"environments: unknown {', '.join(unknown)}; use {', '.join(ENVIRONMENT_NAMES)}"
            )
        if len(set(self.environments)) != len(self.environments):
            raise ConfigError("environments lists an environment twice")


@dataclass(frozen=True)
class Pipelines:
    """The SDLC pipeline (build once, deploy the non-prod environments) and the prod pipeline (promote)."""

    connection_arn: str
    repository: str
    sdlc: PipelineSide
    prod: PipelineSide
    branch: str = "main"
    # The CDK bootstrap qualifier of every account (CDK's default unless the accounts were bootstrapped so).
    bootstrap_qualifier: str = "hnb659fds"

    def __post_init__(self) -> None:
        if not _CONNECTION_ARN.match(self.connection_arn):
            raise ConfigError(
                "connection_arn must be a CodeStar/CodeConnections connection ARN "
                "(arn:aws:codeconnections:<region>:<account>:connection/<id>)"
            )
        if not _REPOSITORY.match(self.repository):
            raise ConfigError(f"repository must be owner/name, got {self.repository!r}")
        if not _QUALIFIER.match(self.bootstrap_qualifier):
            raise ConfigError("bootstrap_qualifier must be 1-10 lowercase letters or digits")
        if "prod" in self.sdlc.environments:
            raise ConfigError(
                "sdlc.environments must not include prod: prod is promoted by the prod pipeline"
            )
        if self.prod.environments != ("prod",):
            raise ConfigError("prod.environments must be [prod]")
        if self.sdlc.deployments.account == self.prod.deployments.account:
            raise ConfigError("sdlc and prod must be different Deployments accounts")

    def side_of(self, environment: str) -> PipelineSide:
        """The pipeline that deploys `environment` (sandbox, when listed nowhere, belongs to SDLC)."""
        return self.prod if environment in self.prod.environments else self.sdlc


def load_pipelines(path: Path = CONFIG_FILE) -> Pipelines:
    """The `pipelines:` section; `defaults.region` fills the Deployments accounts' region."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    section = raw.get("pipelines") if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: needs a top-level 'pipelines' mapping for `ENV=pipelines`")
    region = (raw.get("defaults") or {}).get("region", "us-east-1")
    section = dict(section)
    for side in ("sdlc", "prod"):
        body = section.get(side)
        if isinstance(body, dict) and isinstance(body.get("deployments"), dict):
            section[side] = {**body, "deployments": {"region": region, **body["deployments"]}}
    return typing.cast(Pipelines, _build(Pipelines, section, f"{path.name}: pipelines"))
