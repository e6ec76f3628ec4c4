"""Runtime configuration, read from the environment (pydantic-settings)."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path(".dev") / "tasks.db"


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Every setting of the Tasks API. Environment names are the field names in upper case."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # --- database ---------------------------------------------------------------------------
    database_url: SecretStr | None = None
    # The Secrets Manager JSON {host, port, dbname, username, password} from ECS; wins over DATABASE_URL.
    db_secret: SecretStr | None = None
    sqlite_path: Path = DEFAULT_SQLITE_PATH
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_recycle_seconds: int = Field(default=1800, ge=30)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=10_000, ge=0)
    migrate_on_start: bool = False
    # serve, migrate and worker wait this long for the database to accept connections (containers start in
    # any order); 0 does not wait.
    db_wait_seconds: float = Field(default=60.0, ge=0)
    # Test pooled connections before use. Only those idle for longer than DB_PRE_PING_IDLE_SECONDS are pinged
    # (where dead sockets come from: NAT and proxy idle timeouts, fail-overs while idle); 0 pings on every
    # checkout (a round trip per request). A connection that dies in use invalidates the pool.
    db_pool_pre_ping: bool = True
    db_pre_ping_idle_seconds: float = Field(default=2.0, ge=0)
    # Reads that hit a lost or refused connection (an Aurora resume, a fail-over) are retried with backoff
    # for at most this long; writes are never retried (503 + Retry-After). 0 turns the retry off.
    db_read_retry_seconds: float = Field(default=6.0, ge=0, le=60)

    # --- auth (Cognito access tokens) -------------------------------------------------------
    auth_issuer: str = "http://localhost:9229/us-east-1_LocalPool"
    auth_client_ids: CsvList = Field(default_factory=lambda: ["city-tasks-web"])
    auth_jwks_url: str | None = None
    auth_required_groups: CsvList = Field(default_factory=list)
    auth_required_scopes: CsvList = Field(default_factory=list)
    auth_grace_seconds: int = Field(default=0, ge=0, le=300)
    auth_jwks_min_refetch_seconds: float = Field(default=10.0, ge=0)

    # --- HTTP -------------------------------------------------------------------------------
    host: str = "0.0.0.0"  # noqa: S104 - a container listens on every interface
    port: int = Field(default=8080, ge=1, le=65535)
    cors_origins: CsvList = Field(default_factory=list)
    docs_enabled: bool = True
    keep_alive_timeout_seconds: int = Field(default=75, ge=1)  # above the ALB's 60 s idle timeout
    # After SIGTERM: serve (readiness 503) for DRAIN_SECONDS, then give in-flight requests at most
    # GRACEFUL_SHUTDOWN_SECONDS. In AWS both come from infra/config/environments.yaml (shutdown:), which also
    # sizes the container's stopTimeout above their sum.
    drain_seconds: float = Field(default=5.0, ge=0)
    graceful_shutdown_seconds: int = Field(default=10, ge=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Slow clients (slowloris): the request head and the body must each arrive within these limits.
    request_header_timeout_seconds: float = Field(default=10.0, gt=0)
    request_body_timeout_seconds: float = Field(default=15.0, gt=0)
    page_limit_default: int = Field(default=100, ge=1)
    page_limit_max: int = Field(default=500, ge=1)
    write_rate_per_minute: int = Field(default=120, ge=0)  # per user; 0 turns the limit off
    log_level: str = "INFO"

    # --- tasks and scheduler ----------------------------------------------------------------
    time_zone: str = "America/Guayaquil"
    scheduler_enabled: bool = True
    scheduler_poll_interval_seconds: float = Field(default=1.0, gt=0)
    scheduler_batch_size: int = Field(default=100, ge=1)
    scheduler_misfire_grace_seconds: int = Field(default=60, ge=0, alias="scheduler_misfire_grace")
    scheduler_max_attempts: int = Field(default=3, ge=1)
    scheduler_lease_seconds: int = Field(default=60, ge=5)
    event_bus_name: str | None = None
    aws_endpoint_url: str | None = None

    _split = field_validator(
        "auth_client_ids", "auth_required_groups", "auth_required_scopes", "cors_origins", mode="before"
    )(_split_csv)

    @property
    def jwks_url(self) -> str:
        return self.auth_jwks_url or f"{self.auth_issuer.rstrip('/')}/.well-known/jwks.json"

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The async SQLAlchemy URL: DB_SECRET, then DATABASE_URL, then the embedded SQLite file."""
        if self.db_secret is not None:
            return _url_from_secret(self.db_secret.get_secret_value())
        if self.database_url is not None:
            return _async_driver(self.database_url.get_secret_value())
        return f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


def _async_driver(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def _url_from_secret(raw: str) -> str:
    try:
        secret = json.loads(raw)
        user, password = quote(secret["username"], safe=""), quote(secret["password"], safe="")
        host, dbname = secret["host"], secret.get("dbname", "postgres")
        port = int(secret.get("port", 5432))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            "DB_SECRET must be the Secrets Manager JSON with host, port, dbname, username and password"
        ) from exc
    return f"postgresql+asyncpg://{user}:{password}@{host}:{port}/{dbname}"


def get_settings() -> Settings:
    return Settings()
