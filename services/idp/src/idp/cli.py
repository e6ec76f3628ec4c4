"""The `idp` console script: serve, rotate-keys, remove-key, list-keys, add-user, totp, outbox."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from idp.settings import Settings


def _serve(settings: Settings, _: argparse.Namespace) -> int:
    import uvicorn

    from idp.app import create_app

    app = create_app(settings)
    print(
        f"idp: serving pool {app.state.pool.pool_id} on http://{settings.host}:{settings.port} "
        f"(issuer {app.state.pool.issuer})",
        file=sys.stderr,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def _rotate(settings: Settings, _: argparse.Namespace) -> int:
    from idp import keys
    from idp.store import Store

    access, id_key = keys.rotate(Store(settings.database_url))
    print(
        f"new signing keys {access} (access tokens) and {id_key} (ID tokens); "
        "older keys stay in the JWKS until `idp remove-key KID`"
    )
    return 0


def _list_keys(settings: Settings, _: argparse.Namespace) -> int:
    from idp import keys
    from idp.store import Store

    for kid, created, purpose in keys.list_keys(Store(settings.database_url)):
        print(f"{kid}  {purpose:<6}  created {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(created))}")
    return 0


def _remove_key(settings: Settings, args: argparse.Namespace) -> int:
    from idp import keys
    from idp.store import Store

    try:
        removed = keys.remove(Store(settings.database_url), args.kid)
    except ValueError as exc:
        print(f"idp: {exc}", file=sys.stderr)
        return 2
    if not removed:
        print(f"idp: no key {args.kid}; `idp list-keys` shows them", file=sys.stderr)
        return 2
    print(f"removed {args.kid}")
    return 0


def _add_user(settings: Settings, args: argparse.Namespace) -> int:
    from idp.app import build_pool
    from idp.errors import CognitoError

    pool = build_pool(settings)
    try:
        result = pool.admin.create_user(
            pool.pool_id,
            args.email,
            [
                {"Name": "email", "Value": args.email},
                {"Name": "name", "Value": args.name},
                {"Name": "email_verified", "Value": "true"},
            ],
            args.password,
            "SUPPRESS",
        )
        pool.admin.set_user_password(pool.pool_id, args.email, args.password, True)
        for group in args.group or ["Users"]:
            pool.admin.add_user_to_group(pool.pool_id, args.email, group)
    except CognitoError as exc:
        print(f"idp: {exc.kind}: {exc.message}", file=sys.stderr)
        return 2
    print(f"created {args.email} (username {result['User']['Username']}); MFA is set up at first login")
    return 0


def _totp(settings: Settings, args: argparse.Namespace) -> int:
    from idp import mfa
    from idp.pool import UserPool
    from idp.seed import read_seed
    from idp.store import Store

    store = Store(settings.database_url)
    pool = UserPool(settings, store, read_seed(settings.seed_file).pool_id)
    with store.begin() as db:
        user = pool.find_user(db, args.username)
        secret = user.totp_secret if user else None
    if user is None:
        print(f"idp: no user {args.username}", file=sys.stderr)
        return 2
    if secret is None:
        print(f"idp: {args.username} has not set up TOTP yet", file=sys.stderr)
        return 2
    print(mfa.current_code(secret, time.time()))
    return 0


def _outbox(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from idp.outbox import Outbox
    from idp.store import Store

    for message in Outbox(Store(settings.database_url), time.time).messages(args.to):
        print(json.dumps(message))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="idp", description="Local Cognito-compatible identity provider.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the IdP (IDP_PORT, default 9229; PUBLIC_URL sets the issuer)")
    sub.add_parser("rotate-keys", help="add a new signing key; the old ones stay published")
    sub.add_parser("list-keys", help="list the signing keys, oldest first")
    remove = sub.add_parser("remove-key", help="unpublish a signing key")
    remove.add_argument("kid")
    add = sub.add_parser("add-user", help="create a confirmed user (MFA is set up at first login)")
    add.add_argument("email")
    add.add_argument("--name", required=True)
    add.add_argument("--password", required=True)
    add.add_argument("--group", action="append", help="group to join (default Users); repeatable")
    totp = sub.add_parser("totp", help="print the current TOTP code of a user (local development only)")
    totp.add_argument("username")
    outbox = sub.add_parser(
        "outbox", help="what the IdP 'sent' (codes, temporary passwords), newest first, one JSON line each"
    )
    outbox.add_argument("--to", metavar="EMAIL", help="only the messages to this address")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    commands = {
        "serve": _serve,
        "rotate-keys": _rotate,
        "list-keys": _list_keys,
        "remove-key": _remove_key,
        "add-user": _add_user,
        "totp": _totp,
        "outbox": _outbox,
    }
    from idp.seed import SeedError

    try:
        return commands[args.command](Settings(), args)
    except SeedError as exc:
        print(f"idp: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
