"""Startup freezes its heap, so the collector's full passes under load skip the app's long-lived objects."""

from __future__ import annotations

import gc

from asgi_lifespan import LifespanManager
from tasks_api.app import create_app
from tasks_api.settings import Settings


async def test_lifespan_freezes_the_startup_heap(api_settings: Settings) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    app = create_app(api_settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        assert gc.get_freeze_count() > 0
