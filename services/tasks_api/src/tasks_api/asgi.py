"""An ASGI factory for other servers (``granian --interface asgi --factory tasks_api.asgi:app_factory``)."""

from __future__ import annotations

from fastapi import FastAPI

from tasks_api import jsonlog
from tasks_api.app import create_app
from tasks_api.settings import Settings


def app_factory() -> FastAPI:
    settings = Settings()
    jsonlog.configure(settings.log_level)
    return create_app(settings)
