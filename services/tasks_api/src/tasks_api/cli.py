"""``tasks-api serve | migrate | worker`` (also ``python -m tasks_api``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from pydantic import ValidationError

from tasks_api import jsonlog
from tasks_api.settings import Settings

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("tasks_api.cli")


def _settings() -> Settings:
    try:
        settings = Settings()
        _ = settings.sqlalchemy_url  # DB_SECRET is parsed here: fail now with a message, not later
        return settings
    except (ValidationError, ValueError) as exc:
        print(f"tasks-api: invalid configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def serve(settings: Settings, host: str | None, port: int | None) -> int:
    from tasks_api.app import create_app
    from tasks_api.state import api_state

    app = create_app(settings)
    server = DrainingServer(
        uvicorn_config(app, settings, host, port), api_state(app).readiness, settings.drain_seconds
    )
    server.run()
    return 0


def uvicorn_config(app: object, settings: Settings, host: str | None, port: int | None) -> uvicorn.Config:
    import uvicorn

    from tasks_api.slowclients import protocol_with_header_timeout

    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host or settings.host,
        port=port or settings.port,
        loop="uvloop",
        http=protocol_with_header_timeout(settings.request_header_timeout_seconds),
        # Longer than the ALB's 60 s idle timeout, so the ALB always closes first (no 502 on reuse).
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        access_log=False,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )


class DrainingServer:
    """uvicorn, with a SIGTERM that first turns readiness to 503, keeps serving for the drain window (the load
    balancer stops routing to us), and only then stops accepting and lets in-flight requests finish."""

    def __init__(self, config: object, readiness: object, drain_seconds: float) -> None:
        import uvicorn

        outer = self

        class _Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                outer._on_signal(sig, frame)

        self._server = _Server(config)  # type: ignore[arg-type]
        self._base_exit = uvicorn.Server.handle_exit
        self._readiness = readiness
        self._drain = drain_seconds
        self._timer: threading.Timer | None = None

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self._readiness.draining or self._drain == 0:  # type: ignore[attr-defined]
            self._stop(sig)  # no drain window, or a second signal: stop now
            return
        self._readiness.draining = True  # type: ignore[attr-defined]
        log.info("draining for %.1f s before shutdown", self._drain)
        self._timer = threading.Timer(self._drain, self._stop, args=(sig,))
        self._timer.daemon = True
        self._timer.start()

    def _stop(self, sig: int) -> None:
        self._base_exit(self._server, sig, None)
        # A drained shutdown is a clean exit (0), not death by the re-raised signal.
        captured = getattr(self._server, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()

    def run(self) -> None:
        self._server.run()
        if self._timer is not None:
            self._timer.cancel()


async def _migrate(settings: Settings, revision: str, down: bool) -> bool:
    from tasks_api.db import migrate
    from tasks_api.db.engine import create_engine, transactional

    pool = create_engine(settings)
    engine = transactional(pool)
    try:
        if down:
            await migrate.downgrade(engine, revision)
            return True
        return await migrate.upgrade(engine, revision)
    finally:
        await pool.dispose()


def _wait_for_database(settings: Settings) -> int:
    from tasks_api.db.wait import DatabaseUnavailable, wait_for_database

    try:
        asyncio.run(wait_for_database(settings))
    except DatabaseUnavailable as exc:
        print(f"tasks-api: cannot reach the database: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tasks-api", description="The City Tasks API.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the HTTP API (uvicorn, uvloop, httptools)")
    serve_cmd.add_argument("--host", default=None, help="listen address (default: HOST, 0.0.0.0)")
    serve_cmd.add_argument("--port", type=int, default=None, help="listen port (default: PORT, 8080)")
    migrate_cmd = commands.add_parser("migrate", help="apply the database migrations")
    migrate_cmd.add_argument(
        "--revision", default=None, help="target revision (default: head; base with --down)"
    )
    migrate_cmd.add_argument("--down", action="store_true", help="downgrade to --revision instead")
    commands.add_parser("worker", help="run the scheduler's executor without the HTTP API")
    args = parser.parse_args(argv)

    settings = _settings()
    jsonlog.configure(settings.log_level)
    if (code := _wait_for_database(settings)) != 0:
        return code
    if args.command == "serve":
        return serve(settings, args.host, args.port)
    if args.command == "migrate":
        revision = args.revision or ("base" if args.down else "head")
        try:
            applied = asyncio.run(_migrate(settings, revision, args.down))
        except OSError as exc:
            print(f"tasks-api: cannot reach the database: {exc}", file=sys.stderr)
            return 1
        if applied:
            log.info("migrations applied", extra={"revision": revision, "down": args.down})
        return 0
    from tasks_api.executions import worker  # only the worker command needs it

    asyncio.run(worker.run(settings))
    return 0
