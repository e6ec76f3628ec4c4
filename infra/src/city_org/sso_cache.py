"""The SSO token cache in the AWS CLI's format: ~/.aws/sso/cache/<sha1 of session name or start URL>.json."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from city_org.inifile import write_private

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Accept the CLI's `...Z` and the older `+00:00` / `UTC` spellings."""
    cleaned = text.strip().replace("UTC", "+00:00")
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cache_file(cache_dir: Path, cache_key: str) -> Path:
    digest = hashlib.sha1(cache_key.encode("utf-8"), usedforsecurity=False).hexdigest()
    return cache_dir / f"{digest}.json"


@dataclass
class CachedToken:
    start_url: str
    region: str
    access_token: str | None = None
    expires_at: datetime | None = None
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    registration_expires_at: datetime | None = None

    def token_valid(self, now: datetime, margin: timedelta = timedelta(minutes=5)) -> bool:
        return bool(self.access_token) and self.expires_at is not None and self.expires_at - margin > now

    def registration_valid(self, now: datetime) -> bool:
        return (
            bool(self.client_id and self.client_secret)
            and self.registration_expires_at is not None
            and self.registration_expires_at - timedelta(minutes=15) > now
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"startUrl": self.start_url, "region": self.region}
        if self.access_token:
            data["accessToken"] = self.access_token
        if self.expires_at:
            data["expiresAt"] = format_time(self.expires_at)
        if self.refresh_token:
            data["refreshToken"] = self.refresh_token
        if self.client_id:
            data["clientId"] = self.client_id
        if self.client_secret:
            data["clientSecret"] = self.client_secret
        if self.registration_expires_at:
            data["registrationExpiresAt"] = format_time(self.registration_expires_at)
        return data


def load_token(path: Path) -> CachedToken | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no cache or a damaged one: log in again rather than fail
    try:
        return CachedToken(
            start_url=data.get("startUrl", ""),
            region=data.get("region", ""),
            access_token=data.get("accessToken"),
            expires_at=parse_time(data["expiresAt"]) if data.get("expiresAt") else None,
            refresh_token=data.get("refreshToken"),
            client_id=data.get("clientId"),
            client_secret=data.get("clientSecret"),
            registration_expires_at=parse_time(data["registrationExpiresAt"])
            if data.get("registrationExpiresAt")
            else None,
        )
    except (ValueError, TypeError):
        return None


def save_token(path: Path, token: CachedToken) -> None:
    write_private(path, json.dumps(token.to_json(), indent=2) + "\n")
