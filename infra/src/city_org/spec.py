"""The organization spec: load `organization.yaml`, validate every field, return typed, immutable values.

Pure apart from reading the YAML file and the policy files it names. Every problem is collected and reported
together, each naming the file and the field (for example `organization.yaml: accounts[2].ou`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from city_org.errors import SpecError
from city_org.policies import load_policy_file

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DURATION = re.compile(r"^PT(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
MAX_SCPS_PER_TARGET = 5
_PERMISSION_SET_NAME = re.compile(r"^[\w+=,.@-]{1,32}$")


@dataclass(frozen=True)
class ScpSpec:
    name: str
    description: str
    content: str  # minified JSON
    targets: tuple[str, ...]  # OU paths


@dataclass(frozen=True)
class AccountSpec:
    name: str
    email: str
    ou: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UserSpec:
    username: str
    email: str
    given_name: str
    family_name: str
    display_name: str
    locale: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class GroupSpec:
    name: str
    description: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class PermissionSetSpec:
    name: str
    description: str
    session_duration: str
    relay_state: str | None
    inline_policy: str | None  # minified JSON
    managed_policies: tuple[str, ...]


@dataclass(frozen=True)
class AssignmentSpec:
    principal_type: str  # GROUP or USER
    principal: str
    permission_set: str
    accounts: tuple[str, ...]
    ous: tuple[str, ...]


@dataclass(frozen=True)
class ProtectedSpec:
    """What city-org never deletes, whatever the flags: break-glass principals, groups, permission sets and
    policies (customer SCPs) that AWS holds outside the spec. Their memberships, assignments and SCP
    attachments are kept too."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    permission_sets: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OrganizationSpec:
    ous: tuple[str, ...]  # paths, parents before children
    suspended_ou: str
    scps: tuple[ScpSpec, ...]
    accounts: tuple[AccountSpec, ...]
    users: tuple[UserSpec, ...]
    groups: tuple[GroupSpec, ...]
    permission_sets: tuple[PermissionSetSpec, ...]
    assignments: tuple[AssignmentSpec, ...]
    # Without an identity_center section Identity Center is left alone: nothing planned, nothing deleted.
    manages_identity_center: bool = True
    protected: ProtectedSpec = field(default_factory=ProtectedSpec)

    def account(self, name: str) -> AccountSpec | None:
        return next((a for a in self.accounts if a.name == name), None)


class _Checker:
    """Collects problems while walking the raw YAML."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.filename}: {where}: {message}")

    def mapping(self, value: Any, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(where, f"expected a mapping, got {type(value).__name__}")
            return {}
        for key in sorted(set(value) - allowed):
            self.problem(f"{where}.{key}", f"unknown field (allowed: {', '.join(sorted(allowed))})")
        for key in sorted(required - set(value)):
            self.problem(f"{where}.{key}", "required field is missing")
        return value

    def items(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(where, f"expected a list, got {type(value).__name__}")
            return []
        return value

    def text(self, value: Any, where: str, *, optional: bool = False) -> str:
        if value is None and optional:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.problem(where, "expected a non-empty string")
            return ""
        return value.strip()

    def names(self, value: Any, where: str) -> tuple[str, ...]:
        return tuple(self.text(item, f"{where}[{i}]") for i, item in enumerate(self.items(value, where)))

    def length(self, value: str, where: str, limit: int) -> None:
        if len(value) > limit:
            self.problem(where, f"at most {limit} characters (AWS limit), got {len(value)}")

    def unique(self, values: list[str], where: str, what: str) -> None:
        seen: set[str] = set()
        for value in values:
            if value in seen:
                self.problem(where, f"{what} {value!r} appears more than once")
            seen.add(value)


def _walk_ous(check: _Checker, raw: Any, where: str, parent: str, out: list[str]) -> None:
    for index, item in enumerate(check.items(raw, where)):
        at = f"{where}[{index}]"
        entry = check.mapping(item, at, {"name", "children"}, {"name"})
        name = check.text(entry.get("name"), f"{at}.name")
        if "/" in name:
            check.problem(f"{at}.name", "an OU name cannot contain '/'")
        check.length(name, f"{at}.name", 128)
        path = f"{parent}/{name}" if parent else name
        out.append(path)
        _walk_ous(check, entry.get("children"), f"{at}.children", path, out)


def _duration_ok(value: str) -> bool:
    match = _DURATION.match(value)
    if not match or not (match.group("h") or match.group("m")):
        return False
    minutes = int(match.group("h") or 0) * 60 + int(match.group("m") or 0)
    return 60 <= minutes <= 12 * 60


def load_spec(path: str | Path) -> OrganizationSpec:
    """Load and validate the spec; raise SpecError listing every problem found."""
    path = Path(path)
    filename = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SpecError([f"{path}: cannot read the spec ({error.strerror})"]) from None
    except yaml.YAMLError as error:
        raise SpecError([f"{path}: invalid YAML: {error}"]) from None
    check = _Checker(filename)
    top = check.mapping(
        raw,
        "(top level)",
        {
            "version",
            "organizational_units",
            "suspended_ou",
            "service_control_policies",
            "accounts",
            "identity_center",
            "protected",
        },
        {"organizational_units", "suspended_ou"},
    )
    if top.get("version", 1) != 1:
        check.problem("version", "only version 1 is understood")

    ous: list[str] = []
    _walk_ous(check, top.get("organizational_units"), "organizational_units", "", ous)
    check.unique(ous, "organizational_units", "OU")
    known_ous = set(ous)

    def ou_ref(value: Any, where: str) -> str:
        name = check.text(value, where)
        if name and name not in known_ous:
            check.problem(where, f"unknown OU {name!r} (known: {', '.join(ous)})")
        return name

    suspended = ou_ref(top.get("suspended_ou"), "suspended_ou")

    scps: list[ScpSpec] = []
    for index, item in enumerate(
        check.items(top.get("service_control_policies"), "service_control_policies")
    ):
        at = f"service_control_policies[{index}]"
        entry = check.mapping(item, at, {"name", "description", "file", "targets"}, {"name", "file"})
        name = check.text(entry.get("name"), f"{at}.name")
        file_name = check.text(entry.get("file"), f"{at}.file")
        content = ""
        if file_name:
            text, problems = load_policy_file(path.parent / file_name, is_scp=True)
            check.problems.extend(problems)
            content = text or ""
        targets = tuple(
            ou_ref(t, f"{at}.targets[{i}]")
            for i, t in enumerate(check.items(entry.get("targets"), f"{at}.targets"))
        )
        check.unique(list(targets), f"{at}.targets", "target")
        description = check.text(entry.get("description"), f"{at}.description", optional=True)
        scps.append(ScpSpec(name, description or name, content, targets))
    check.unique([s.name for s in scps], "service_control_policies", "policy name")
    for ou in ous:
        attached = [s.name for s in scps if ou in s.targets]
        # AWS allows five SCPs per target, and FullAWSAccess (or a replacement allow policy) takes one of them
        if len(attached) > MAX_SCPS_PER_TARGET - 1:
            check.problem(
                "service_control_policies",
                f"OU {ou} would get {len(attached)} SCPs ({', '.join(attached)}); AWS allows "
                f"{MAX_SCPS_PER_TARGET} per target including FullAWSAccess",
            )

    accounts: list[AccountSpec] = []
    for index, item in enumerate(check.items(top.get("accounts"), "accounts")):
        at = f"accounts[{index}]"
        entry = check.mapping(item, at, {"name", "email", "ou", "tags"}, {"name", "email", "ou"})
        email = check.text(entry.get("email"), f"{at}.email")
        if email and not _EMAIL.match(email):
            check.problem(f"{at}.email", f"{email!r} is not an e-mail address")
        tags_raw = entry.get("tags") or {}
        tags: dict[str, str] = {}
        if not isinstance(tags_raw, dict):
            check.problem(f"{at}.tags", "expected a mapping of tag key to value")
        else:
            for key, value in tags_raw.items():
                if str(key).startswith(("aws:", "city-org:")):
                    check.problem(f"{at}.tags.{key}", "the aws: and city-org: prefixes are reserved")
                tags[str(key)] = str(value)
        name = check.text(entry.get("name"), f"{at}.name")
        check.length(name, f"{at}.name", 50)
        check.length(email, f"{at}.email", 64)
        accounts.append(AccountSpec(name, email, ou_ref(entry.get("ou"), f"{at}.ou"), tags))
    check.unique([a.name for a in accounts], "accounts", "account name")
    check.unique([a.email.lower() for a in accounts], "accounts", "e-mail")

    ic = check.mapping(
        top.get("identity_center") or {},
        "identity_center",
        {"users", "groups", "permission_sets", "assignments"},
        set(),
    )
    users: list[UserSpec] = []
    for index, item in enumerate(check.items(ic.get("users"), "identity_center.users")):
        at = f"identity_center.users[{index}]"
        entry = check.mapping(
            item,
            at,
            {"username", "email", "given_name", "family_name", "display_name", "locale", "timezone"},
            {"username", "email", "given_name", "family_name"},
        )
        given = check.text(entry.get("given_name"), f"{at}.given_name")
        family = check.text(entry.get("family_name"), f"{at}.family_name")
        email = check.text(entry.get("email"), f"{at}.email")
        if email and not _EMAIL.match(email):
            check.problem(f"{at}.email", f"{email!r} is not an e-mail address")
        users.append(
            UserSpec(
                username=check.text(entry.get("username"), f"{at}.username"),
                email=email,
                given_name=given,
                family_name=family,
                display_name=check.text(entry.get("display_name"), f"{at}.display_name", optional=True)
                or f"{given} {family}",
                locale=entry.get("locale"),
                timezone=entry.get("timezone"),
            )
        )
    user_names = [u.username for u in users]
    check.unique(user_names, "identity_center.users", "username")

    groups: list[GroupSpec] = []
    for index, item in enumerate(check.items(ic.get("groups"), "identity_center.groups")):
        at = f"identity_center.groups[{index}]"
        entry = check.mapping(item, at, {"name", "description", "members"}, {"name"})
        members = check.names(entry.get("members"), f"{at}.members")
        for i, member in enumerate(members):
            if member and member not in user_names:
                check.problem(f"{at}.members[{i}]", f"unknown user {member!r}")
        check.unique(list(members), f"{at}.members", "member")
        groups.append(
            GroupSpec(
                check.text(entry.get("name"), f"{at}.name"),
                check.text(entry.get("description"), f"{at}.description", optional=True),
                members,
            )
        )
    group_names = [g.name for g in groups]
    check.unique(group_names, "identity_center.groups", "group name")

    permission_sets: list[PermissionSetSpec] = []
    for index, item in enumerate(check.items(ic.get("permission_sets"), "identity_center.permission_sets")):
        at = f"identity_center.permission_sets[{index}]"
        entry = check.mapping(
            item,
            at,
            {"name", "description", "session_duration", "relay_state", "inline_policy", "managed_policies"},
            {"name"},
        )
        duration = check.text(entry.get("session_duration", "PT1H"), f"{at}.session_duration")
        if duration and not _duration_ok(duration):
            check.problem(
                f"{at}.session_duration", f"{duration!r} must be an ISO-8601 duration from PT1H to PT12H"
            )
        inline: str | None = None
        if entry.get("inline_policy"):
            text, problems = load_policy_file(path.parent / str(entry["inline_policy"]), is_scp=False)
            check.problems.extend(problems)
            inline = text
        managed = check.names(entry.get("managed_policies"), f"{at}.managed_policies")
        for i, arn in enumerate(managed):
            if arn and not arn.startswith("arn:aws:iam::aws:policy/"):
                check.problem(
                    f"{at}.managed_policies[{i}]",
                    "expected an AWS managed policy ARN (arn:aws:iam::aws:policy/...)",
                )
        ps_name = check.text(entry.get("name"), f"{at}.name")
        if ps_name and not _PERMISSION_SET_NAME.match(ps_name):
            check.problem(f"{at}.name", "use 1-32 letters, digits or +=,.@- (an AWS limit)")
        permission_sets.append(
            PermissionSetSpec(
                name=ps_name,
                description=check.text(entry.get("description"), f"{at}.description", optional=True),
                session_duration=duration,
                relay_state=entry.get("relay_state") or None,
                inline_policy=inline,
                managed_policies=tuple(sorted(managed)),
            )
        )
    ps_names = [p.name for p in permission_sets]
    check.unique(ps_names, "identity_center.permission_sets", "permission set name")

    account_names = {a.name for a in accounts}
    assignments: list[AssignmentSpec] = []
    for index, item in enumerate(check.items(ic.get("assignments"), "identity_center.assignments")):
        at = f"identity_center.assignments[{index}]"
        entry = check.mapping(
            item, at, {"group", "user", "permission_set", "accounts", "ous"}, {"permission_set"}
        )
        if ("group" in entry) == ("user" in entry):
            check.problem(at, 'needs exactly one of "group" or "user"')
        principal_type = "GROUP" if "group" in entry else "USER"
        principal = check.text(entry.get("group", entry.get("user")), f"{at}.{principal_type.lower()}")
        known = group_names if principal_type == "GROUP" else user_names
        if principal and principal not in known:
            check.problem(f"{at}.{principal_type.lower()}", f"unknown {principal_type.lower()} {principal!r}")
        permission_set = check.text(entry.get("permission_set"), f"{at}.permission_set")
        if permission_set and permission_set not in ps_names:
            check.problem(f"{at}.permission_set", f"unknown permission set {permission_set!r}")
        targets = check.names(entry.get("accounts"), f"{at}.accounts")
        for i, name in enumerate(targets):
            if name and name not in account_names and not _ACCOUNT_ID.match(name):
                check.problem(f"{at}.accounts[{i}]", f"unknown account {name!r}")
        target_ous = tuple(
            ou_ref(o, f"{at}.ous[{i}]") for i, o in enumerate(check.items(entry.get("ous"), f"{at}.ous"))
        )
        if not targets and not target_ous:
            check.problem(at, 'needs "accounts" or "ous"')
        assignments.append(AssignmentSpec(principal_type, principal, permission_set, targets, target_ous))

    kept = check.mapping(
        top.get("protected") or {}, "protected", {"users", "groups", "permission_sets", "policies"}, set()
    )
    protected = ProtectedSpec(
        **{key: frozenset(check.names(kept.get(key), f"protected.{key}")) for key in kept}  # type: ignore[arg-type]
    )

    if check.problems:
        raise SpecError(check.problems)
    return OrganizationSpec(
        ous=tuple(ous),
        suspended_ou=suspended,
        scps=tuple(scps),
        accounts=tuple(accounts),
        users=tuple(users),
        groups=tuple(groups),
        permission_sets=tuple(permission_sets),
        assignments=tuple(assignments),
        manages_identity_center="identity_center" in top,
        protected=protected,
    )
