"""Runtime settings of the local IdP (environment variables, optionally prefixed with IDP_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SEED = Path(__file__).resolve().parents[2] / "seed.yaml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDP_", extra="ignore")

    # The public base URL; the issuer is f"{public_url}/{pool_id}". IDP_PUBLIC_URL wins over PUBLIC_URL so
    # a shared shell can give the API and the IdP different values.
    public_url: str = Field(
        default="http://localhost:9229", validation_alias=AliasChoices("IDP_PUBLIC_URL", "PUBLIC_URL")
    )
    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("IDP_HOST"))
    port: int = Field(default=9229, validation_alias=AliasChoices("IDP_PORT"))
    database_url: str = Field(
        default="sqlite:///.dev/idp.sqlite3",
        validation_alias=AliasChoices("IDP_DATABASE_URL", "DATABASE_URL"),
    )
    seed_file: Path = Field(default=DEFAULT_SEED, validation_alias=AliasChoices("IDP_SEED_FILE"))

    # Argon2id cost. The default is OWASP's minimum for Argon2id (19 MiB, 2 passes, 1 lane): a local IdP
    # holds throwaway accounts, and a ~15 ms verify keeps logins snappy on a laptop while staying memory-hard.
    argon2_time_cost: int = Field(default=2, validation_alias=AliasChoices("IDP_ARGON2_TIME_COST"))
    argon2_memory_kib: int = Field(default=19 * 1024, validation_alias=AliasChoices("IDP_ARGON2_MEMORY_KIB"))
    argon2_parallelism: int = Field(default=1, validation_alias=AliasChoices("IDP_ARGON2_PARALLELISM"))

    access_token_seconds: int = 3600
    id_token_seconds: int = 3600
    refresh_token_seconds: int = 30 * 24 * 3600
    auth_session_seconds: int = 180  # Cognito's default AuthSessionValidity (3 minutes)
    auth_code_seconds: int = 60
    hosted_flow_seconds: int = 900
    browser_session_seconds: int = 3600
    confirmation_code_seconds: int = 24 * 3600

    # Failed logins: after `max_failed_logins` misses the user is locked for `lockout_seconds`, doubling per
    # further miss (capped at 15 minutes), like Cognito's "Password attempts exceeded".
    # How often a running server re-reads the signing keys, so `idp rotate-keys` needs no restart.
    key_refresh_seconds: float = 5.0

    max_failed_logins: int = 5
    lockout_seconds: int = 2

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")
