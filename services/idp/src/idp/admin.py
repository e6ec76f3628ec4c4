"""The administrator's API: users, groups, the pool and its app clients."""

from __future__ import annotations

import base64
import logging
import re
import secrets
import string
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from idp.accounts import parse_attributes
from idp.errors import CognitoError, invalid_parameter, not_authorized
from idp.passwords import MIN_PASSWORD_LENGTH, check_policy
from idp.store import Client, Group, Membership, User

if TYPE_CHECKING:
    from idp.pool import UserPool

log = logging.getLogger("idp")

MAX_LIST = 60
# ListUsers filters, as Cognito reads them: `attribute = "value"` (exact) or `attribute ^= "value"` (prefix).
# `status` is the Enabled/Disabled flag; `cognito:user_status` the confirmation state.
FILTER_RE = re.compile(r'^\s*([a-z_:]+)\s*(=|\^=)\s*"((?:[^"\\]|\\.)*)"\s*$')
FLOW_NAMES = {"code": "code", "client_credentials": "client_credentials", "implicit": "implicit"}


def _group_type(pool_id: str, group: Group) -> dict[str, Any]:
    return {
        "GroupName": group.name,
        "UserPoolId": pool_id,
        "Description": group.description,
        "Precedence": group.precedence,
    }


def _page(token: str | None) -> int:
    if token is None:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError as exc:
        raise invalid_parameter("Invalid PaginationToken.") from exc
    if offset < 0:
        raise invalid_parameter("Invalid PaginationToken.")
    return offset


def _next_token(offset: int, limit: int, more: bool, key: str = "NextToken") -> dict[str, str]:
    """The token of the next page under `key` (ListUsers calls it PaginationToken, the others NextToken)."""
    return {key: base64.urlsafe_b64encode(str(offset + limit).encode()).decode()} if more else {}


def _limit(value: int | None, default: int = MAX_LIST) -> int:
    limit = default if value is None else value
    if not 1 <= limit <= MAX_LIST:
        raise invalid_parameter(f"Limit must be between 1 and {MAX_LIST}.")
    return limit


def _filter_clause(expression: str) -> ColumnElement[bool]:
    match = FILTER_RE.match(expression)
    if match is None:
        raise invalid_parameter('Filter must look like: email = "a@b.c" or name ^= "Ann".')
    attribute, op, value = match.groups()
    value = value.replace('\\"', '"')
    if attribute == "status":
        if op != "=" or value not in ("Enabled", "Disabled"):
            raise invalid_parameter('status can only be filtered with = "Enabled" or = "Disabled".')
        return User.enabled.is_(value == "Enabled")
    columns = {
        "email": User.email,
        "name": User.name,
        "sub": User.sub,
        "username": User.sub,
        "cognito:user_status": User.status,
    }
    column = columns.get(attribute)
    if column is None:
        raise invalid_parameter(
            f"Invalid search attribute {attribute}: one of {', '.join([*columns, 'status'])}."
        )
    return column == value if op == "=" else column.startswith(value, autoescape=True)


def temporary_password() -> str:
    """A random password that meets the pool's policy."""
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(MIN_PASSWORD_LENGTH))
    return body + secrets.choice(string.ascii_uppercase) + secrets.choice(string.digits) + "!a"


class Admin:
    def __init__(self, pool: UserPool) -> None:
        self.pool = pool

    def _user(self, db: Session, pool_id: str, username: str) -> User:
        self.pool.check_pool(pool_id)
        return self.pool.require_user(db, username, lock=True)

    # ------------------------------------------------------------- users
    def create_user(
        self,
        pool_id: str,
        username: str,
        attributes: list[dict[str, str]],
        temporary: str | None,
        action: str | None,
    ) -> dict[str, Any]:
        pool = self.pool
        pool.check_pool(pool_id)
        if action not in (None, "SUPPRESS", "RESEND"):
            raise invalid_parameter("MessageAction must be SUPPRESS or RESEND.")
        attrs = parse_attributes(attributes)
        temporary = temporary if temporary is not None else temporary_password()
        check_policy(temporary)
        if action == "RESEND":
            with pool.store.read() as db:
                sub = pool.require_user(db, username).sub
        else:
            sub = str(uuid.uuid4())
        credentials = pool.credentials(sub, temporary)
        with pool.store.begin() as db:
            if action == "RESEND":
                user = pool.require_user(db, username, lock=True)
                if user.status != "FORCE_CHANGE_PASSWORD":
                    raise CognitoError(
                        "UnsupportedUserStateException", "User is not in FORCE_CHANGE_PASSWORD state."
                    )
            else:
                try:
                    user = pool.new_user(db, sub, username, attrs, "FORCE_CHANGE_PASSWORD")
                except CognitoError as exc:
                    if exc.kind == "UsernameExistsException":
                        raise CognitoError("UsernameExistsException", "User account already exists") from exc
                    raise
                db.flush()
            pool.store_credentials(db, user, credentials)
            result = {"User": pool.user_type(user)}
            email = user.email
        if action != "SUPPRESS":
            pool.outbox.send(email, "temporary_password", temporary)
        return result

    def set_user_password(self, pool_id: str, username: str, password: str, permanent: bool) -> None:
        pool = self.pool
        check_policy(password)
        with pool.store.read() as db:
            pool.check_pool(pool_id)
            sub = pool.require_user(db, username).sub
        credentials = pool.credentials(sub, password)
        with pool.store.begin() as db:
            user = self._user(db, pool_id, username)
            pool.store_credentials(db, user, credentials)
            user.status = "CONFIRMED" if permanent else "FORCE_CHANGE_PASSWORD"

    def get_user(self, pool_id: str, username: str) -> dict[str, Any]:
        with self.pool.store.begin() as db:
            user = self._user(db, pool_id, username)
            out = self.pool.user_type(user)
            out["UserAttributes"] = out.pop("Attributes")
            return {**out, **self.pool.mfa_fields(user)}

    def delete_user(self, pool_id: str, username: str) -> None:
        with self.pool.store.begin() as db:
            self.pool.accounts.remove(db, self._user(db, pool_id, username))

    def update_user_attributes(self, pool_id: str, username: str, attributes: list[dict[str, str]]) -> None:
        with self.pool.store.begin() as db:
            user = self._user(db, pool_id, username)
            sent = self.pool.accounts.apply_attributes(db, user, parse_attributes(attributes), admin=True)
        if sent is not None:
            self.pool.outbox.send(sent[0], "verify_attribute", sent[1])

    def reset_user_password(self, pool_id: str, username: str) -> None:
        """Sign-in now answers PasswordResetRequiredException; the user resets with the outbox's code."""
        with self.pool.store.begin() as db:
            user = self._user(db, pool_id, username)
            if not user.email_verified:
                raise invalid_parameter(
                    "Cannot reset password for the user as there is no registered/verified email or "
                    "phone_number"
                )
            if user.status != "UNCONFIRMED":
                user.status = "RESET_REQUIRED"
            code, email = self.pool.accounts.start_reset(db, user), user.email
        self.pool.outbox.send(email, "forgot_password", code)

    def confirm_sign_up(self, pool_id: str, username: str) -> None:
        with self.pool.store.begin() as db:
            user = self._user(db, pool_id, username)
            if user.status != "UNCONFIRMED":
                raise not_authorized(f"User cannot be confirmed. Current status is {user.status}")
            event = self.pool.accounts.confirm(db, user, "", "PostConfirmation_ConfirmSignUp")
        self.pool.run_post_confirmation(event)

    def set_enabled(self, pool_id: str, username: str, enabled: bool) -> None:
        """AdminDisableUser / AdminEnableUser: a disabled user can neither sign in nor refresh."""
        with self.pool.store.begin() as db:
            user = self._user(db, pool_id, username)
            user.enabled = enabled
            user.updated_at = self.pool.clock()
            if not enabled:
                self.pool.sign_out_user(db, user.sub)

    def user_global_sign_out(self, pool_id: str, username: str) -> None:
        with self.pool.store.begin() as db:
            self.pool.sign_out_user(db, self._user(db, pool_id, username).sub)

    def set_user_mfa_preference(
        self, pool_id: str, username: str, software_token: dict[str, Any] | None, sms: dict[str, Any] | None
    ) -> None:
        with self.pool.store.begin() as db:
            self.pool.accounts.set_user_mfa_preference(self._user(db, pool_id, username), software_token, sms)

    def list_users(
        self, pool_id: str, limit: int | None, token: str | None, expression: str | None
    ) -> dict[str, Any]:
        self.pool.check_pool(pool_id)
        limit, offset = _limit(limit), _page(token)
        query = select(User).order_by(User.created_at, User.sub)
        if expression:
            query = query.where(_filter_clause(expression))
        with self.pool.store.read() as db:
            rows = db.scalars(query.offset(offset).limit(limit + 1)).all()
            users = [self.pool.user_type(u) for u in rows[:limit]]
        return {"Users": users, **_next_token(offset, limit, len(rows) > limit, "PaginationToken")}

    # ------------------------------------------------------------- groups
    def _group(self, db: Session, pool_id: str, name: str) -> Group:
        self.pool.check_pool(pool_id)
        group = db.get(Group, name)
        if group is None:
            raise CognitoError("ResourceNotFoundException", "Group not found.")
        return group

    def add_user_to_group(self, pool_id: str, username: str, group: str) -> None:
        with self.pool.store.begin() as db:
            self._group(db, pool_id, group)
            user = self._user(db, pool_id, username)
            if group not in user.group_names:
                user.groups.append(Membership(sub=user.sub, group=group))

    def remove_user_from_group(self, pool_id: str, username: str, group: str) -> None:
        with self.pool.store.begin() as db:
            self._group(db, pool_id, group)
            user = self._user(db, pool_id, username)
            user.groups = [m for m in user.groups if m.group != group]

    def list_groups_for_user(
        self, pool_id: str, username: str, limit: int | None, token: str | None
    ) -> dict[str, Any]:
        limit, offset = _limit(limit), _page(token)
        self.pool.check_pool(pool_id)
        with self.pool.store.read() as db:
            user = self.pool.require_user(db, username)
            names = user.group_names[offset : offset + limit + 1]
            groups = [_group_type(pool_id, g) for g in (db.get(Group, n) for n in names[:limit]) if g]
        return {"Groups": groups, **_next_token(offset, limit, len(names) > limit)}

    def list_users_in_group(
        self, pool_id: str, group: str, limit: int | None, token: str | None
    ) -> dict[str, Any]:
        limit, offset = _limit(limit), _page(token)
        with self.pool.store.read() as db:
            self._group(db, pool_id, group)
            query = (
                select(User)
                .join(Membership, Membership.sub == User.sub)
                .where(Membership.group == group)
                .order_by(User.created_at, User.sub)
            )
            rows = db.scalars(query.offset(offset).limit(limit + 1)).all()
            users = [self.pool.user_type(u) for u in rows[:limit]]
        return {"Users": users, **_next_token(offset, limit, len(rows) > limit)}

    def create_group(
        self, pool_id: str, name: str, description: str | None, precedence: int | None
    ) -> dict[str, Any]:
        self.pool.check_pool(pool_id)
        if not re.fullmatch(r"\S{1,128}", name):
            raise invalid_parameter("GroupName must be 1 to 128 characters without spaces.")
        with self.pool.store.begin() as db:
            if db.get(Group, name) is not None:
                raise CognitoError("GroupExistsException", "A group with the name already exists.")
            group = Group(name=name, description=description or "", precedence=precedence or 0)
            db.add(group)
            return {"Group": _group_type(pool_id, group)}

    def get_group(self, pool_id: str, name: str) -> dict[str, Any]:
        with self.pool.store.read() as db:
            return {"Group": _group_type(pool_id, self._group(db, pool_id, name))}

    def list_groups(self, pool_id: str, limit: int | None, token: str | None) -> dict[str, Any]:
        self.pool.check_pool(pool_id)
        limit, offset = _limit(limit), _page(token)
        with self.pool.store.read() as db:
            rows = db.scalars(select(Group).order_by(Group.name).offset(offset).limit(limit + 1)).all()
            groups = [_group_type(pool_id, g) for g in rows[:limit]]
        return {"Groups": groups, **_next_token(offset, limit, len(rows) > limit)}

    def delete_group(self, pool_id: str, name: str) -> None:
        with self.pool.store.begin() as db:
            group = self._group(db, pool_id, name)
            db.execute(delete(Membership).where(Membership.group == name))
            db.delete(group)

    # ------------------------------------------------------------- the pool and its clients
    def describe_user_pool(self, pool_id: str) -> dict[str, Any]:
        pool = self.pool
        pool.check_pool(pool_id)
        with pool.store.read() as db:
            users = db.scalar(select(func.count()).select_from(User))
        return {
            "UserPool": {
                "Id": pool.pool_id,
                "Name": pool.name,
                "Arn": f"arn:aws:cognito-idp:{pool.region}:000000000000:userpool/{pool.pool_id}",
                "Policies": {
                    "PasswordPolicy": {
                        "MinimumLength": MIN_PASSWORD_LENGTH,
                        "RequireUppercase": True,
                        "RequireLowercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": True,
                        "TemporaryPasswordValidityDays": 7,
                    }
                },
                "MfaConfiguration": pool.mfa_configuration,
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                "EstimatedNumberOfUsers": users,
            }
        }

    @staticmethod
    def _client_type(pool_id: str, client: Client) -> dict[str, Any]:
        out: dict[str, Any] = {
            "UserPoolId": pool_id,
            "ClientName": client.name,
            "ClientId": client.client_id,
            "ExplicitAuthFlows": list(client.auth_flows),
            "AllowedOAuthFlows": list(client.oauth_flows),
            "AllowedOAuthScopes": list(client.scopes),
            "AllowedOAuthFlowsUserPoolClient": bool(client.oauth_flows),
            "CallbackURLs": list(client.callback_urls),
            "LogoutURLs": list(client.logout_urls),
        }
        if client.secret is not None:
            out["ClientSecret"] = client.secret
        return out

    def describe_user_pool_client(self, pool_id: str, client_id: str) -> dict[str, Any]:
        self.pool.check_pool(pool_id)
        with self.pool.store.read() as db:
            return {"UserPoolClient": self._client_type(pool_id, self.pool.client(db, client_id))}

    def list_user_pool_clients(self, pool_id: str, limit: int | None, token: str | None) -> dict[str, Any]:
        self.pool.check_pool(pool_id)
        limit, offset = _limit(limit), _page(token)
        with self.pool.store.read() as db:
            rows = db.scalars(select(Client).order_by(Client.client_id).offset(offset).limit(limit + 1)).all()
            clients = [
                {"ClientId": c.client_id, "UserPoolId": pool_id, "ClientName": c.name} for c in rows[:limit]
            ]
        return {"UserPoolClients": clients, **_next_token(offset, limit, len(rows) > limit)}

    def create_user_pool_client(
        self,
        pool_id: str,
        name: str,
        generate_secret: bool,
        auth_flows: list[str],
        oauth_flows: list[str],
        scopes: list[str],
        callback_urls: list[str],
        logout_urls: list[str],
    ) -> dict[str, Any]:
        self.pool.check_pool(pool_id)
        if not re.fullmatch(r"[\w\s+=,.@-]{1,128}", name):
            raise invalid_parameter("ClientName must be 1 to 128 letters, digits, spaces or +=,.@-_.")
        unknown = [f for f in oauth_flows if f not in FLOW_NAMES]
        if unknown:
            raise invalid_parameter(
                f"AllowedOAuthFlows may hold code, implicit, client_credentials (got {unknown})."
            )
        client_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26))
        client = Client(
            client_id=client_id,
            name=name,
            secret=secrets.token_urlsafe(38) if generate_secret else None,
            callback_urls=callback_urls,
            logout_urls=logout_urls,
            scopes=scopes,
            oauth_flows=oauth_flows,
            auth_flows=auth_flows or ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )
        with self.pool.store.begin() as db:
            db.add(client)
        return {"UserPoolClient": self._client_type(pool_id, client)}
