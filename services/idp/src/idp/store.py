"""Persistence: users, groups, clients, signing keys, sessions, codes and refresh tokens.

SQLite under `.dev/` by default, PostgreSQL when the URL says so. Secrets handed to callers (session ids,
authorization codes, refresh tokens) are stored only as SHA-256 digests: they are long random strings, so a
fast digest is enough and a copy of the database does not yield usable credentials.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Base(DeclarativeBase):
    pass


class SigningKey(Base):
    __tablename__ = "idp_signing_keys"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    # "access" or "id": as in Cognito, the two kinds of token are signed with different keys. None is a key
    # from before the split; it signs access tokens.
    purpose: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Client(Base):
    __tablename__ = "idp_clients"
    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    secret: Mapped[str | None] = mapped_column(String(128), nullable=True)
    callback_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    logout_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    oauth_flows: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_flows: Mapped[list[str]] = mapped_column(JSON, default=list)


class Group(Base):
    __tablename__ = "idp_groups"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str] = mapped_column(String(2048), default="")
    precedence: Mapped[int] = mapped_column(Integer, default=0)


class Membership(Base):
    __tablename__ = "idp_memberships"
    sub: Mapped[str] = mapped_column(ForeignKey("idp_users.sub", ondelete="CASCADE"), primary_key=True)
    group: Mapped[str] = mapped_column(ForeignKey("idp_groups.name", ondelete="CASCADE"), primary_key=True)


class User(Base):
    __tablename__ = "idp_users"
    sub: Mapped[str] = mapped_column(String(36), primary_key=True)  # also the username (email is an alias)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(32))  # UNCONFIRMED | CONFIRMED | FORCE_CHANGE_PASSWORD
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(128), nullable=True)
    totp_pending_secret: Mapped[str | None] = mapped_column(String(128), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    confirmation_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmation_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # SetUserMFAPreference with Enabled=false in a pool whose MFA is optional (None: on when set up).
    mfa_disabled: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    groups: Mapped[list[Membership]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def group_names(self) -> list[str]:
        return sorted(m.group for m in self.groups)

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_secret is not None and not self.mfa_disabled


class SrpVerifier(Base):
    """The SRP verifier of a user's current password (kept beside the Argon2id hash; see srp.py)."""

    __tablename__ = "idp_srp_verifiers"
    sub: Mapped[str] = mapped_column(ForeignKey("idp_users.sub", ondelete="CASCADE"), primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))
    verifier: Mapped[str] = mapped_column(Text)


class OutboxMessage(Base):
    """A code or temporary password the IdP "sent": the local stand-in for e-mail (GET /_local/outbox)."""

    __tablename__ = "idp_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    to: Mapped[str] = mapped_column(String(320), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[float] = mapped_column(Float)


class SessionRecord(Base):
    """Server-side state with an expiry: challenge sessions, hosted-UI flows and browser sessions."""

    __tablename__ = "idp_sessions"
    id_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # auth | flow | browser
    sub: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    client_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class AuthCode(Base):
    __tablename__ = "idp_auth_codes"
    code_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    sub: Mapped[str] = mapped_column(String(36))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class RefreshToken(Base):
    __tablename__ = "idp_refresh_tokens"
    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    sub: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(Text)
    origin_jti: Mapped[str] = mapped_column(String(36), unique=True, index=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class PoolRecord(Base):
    """A user pool made with CreateUserPool (the seed's pool is not listed: it comes from the seed file)."""

    __tablename__ = "idp_user_pools"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    mfa_configuration: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)


class Store:
    """The tables of one user pool. `schema` (PostgreSQL) keeps a created pool's tables apart from the seed
    pool's in the same database; on SQLite a created pool gets its own file (see `pool_url`)."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.engine: Engine = make_engine(url)
        self._base_engine = self.engine
        if schema is not None:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.engine = self.engine.execution_options(schema_translate_map={None: schema})
        Base.metadata.create_all(self.engine)
        add_missing_columns(self.engine, schema)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads that write nothing skip SQLite's write lock (a deferred BEGIN) so they run side by side.
        self.read_engine = (
            make_engine(url, immediate=False) if self.engine.dialect.name == "sqlite" else self.engine
        )
        self._readers = sessionmaker(self.read_engine, expire_on_commit=False)

    @classmethod
    def for_pool(cls, url: str, pool_id: str) -> Store:
        """The store of a pool made with CreateUserPool, beside the main one."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            database = Path(parsed.database or "idp.sqlite3")
            own = database.with_name(f"{database.stem}.{pool_id}{database.suffix or '.sqlite3'}")
            return cls(parsed.set(database=str(own)).render_as_string(hide_password=False))
        return cls(url, schema=f"idp_{pool_id.lower()}")

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with self._sessions.begin() as db:
            yield db

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction for lookups only."""
        with self._readers.begin() as db:
            yield db

    def dispose(self) -> None:
        self._base_engine.dispose()
        self.read_engine.dispose()


def add_missing_columns(engine: Engine, schema: str | None = None) -> None:
    """Adds nullable columns that newer versions define to tables an older version created.

    create_all makes missing tables but leaves existing ones alone; a developer's `.dev/idp.sqlite3` from
    before a column was added must keep working without being deleted.
    """
    with engine.begin() as conn:
        existing = inspect(conn)
        tables = set(existing.get_table_names(schema=schema))
        prefix = f'"{schema}".' if schema else ""
        for table in Base.metadata.sorted_tables:
            if table.name not in tables:
                continue
            have = {c["name"] for c in existing.get_columns(table.name, schema=schema)}
            for column in table.columns:
                if column.name not in have and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.exec_driver_sql(
                        f'ALTER TABLE {prefix}{table.name} ADD COLUMN "{column.name}" {kind}'
                    )


def make_engine(url: str, immediate: bool = True) -> Engine:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})

    # SQLite upgrades a deferred read transaction to a write one by failing at once with "database is locked"
    # when another writer got there first; taking the write lock up front (BEGIN IMMEDIATE) makes concurrent
    # requests queue on the busy timeout instead.
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
