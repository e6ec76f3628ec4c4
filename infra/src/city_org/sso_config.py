"""Read a profile's IAM Identity Center settings from ~/.aws/config (legacy keys or an [sso-session])."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from city_org.errors import CityOrgError
from city_org.inifile import read_sections

DEFAULT_SCOPES = ("sso:account:access",)


class LoginError(CityOrgError):
    """Something the person logging in can fix."""


@dataclass(frozen=True)
class SsoProfile:
    profile: str
    start_url: str
    sso_region: str
    account_id: str | None
    role_name: str | None
    session_name: str | None  # set when the profile uses an [sso-session] section
    scopes: tuple[str, ...]
    region: str | None

    @property
    def cache_key(self) -> str:
        """What the AWS CLI hashes for the cache file name: the session name, else the start URL."""
        return self.session_name or self.start_url


def _section_name(profile: str) -> str:
    return "default" if profile == "default" else f"profile {profile}"


def load_sso_profile(config_path: Path, profile: str) -> SsoProfile:
    try:
        sections = read_sections(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoginError(
            f"{config_path} does not exist; create the profile with `aws configure sso`"
        ) from None
    settings = sections.get(_section_name(profile))
    if settings is None:
        raise LoginError(f"{config_path}: no [{_section_name(profile)}] section")
    session_name = settings.get("sso_session")
    values = dict(settings)
    if session_name:
        session = sections.get(f"sso-session {session_name}")
        if session is None:
            raise LoginError(
                f"{config_path}: profile {profile} names sso_session {session_name} but there is no "
                f"[sso-session {session_name}] section"
            )
        values = {**session, **settings}
    missing = [key for key in ("sso_start_url", "sso_region") if not values.get(key)]
    if missing:
        where = f"[sso-session {session_name}]" if session_name else f"[{_section_name(profile)}]"
        raise LoginError(f"{config_path}: {where} lacks {', '.join(missing)}")
    scopes = tuple(s.strip() for s in values.get("sso_registration_scopes", "").split(",") if s.strip())
    return SsoProfile(
        profile=profile,
        start_url=values["sso_start_url"],
        sso_region=values["sso_region"],
        account_id=settings.get("sso_account_id"),
        role_name=settings.get("sso_role_name"),
        session_name=session_name,
        scopes=scopes or (DEFAULT_SCOPES if session_name else ()),
        region=settings.get("region"),
    )
