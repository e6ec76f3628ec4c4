"""The app's state is one typed object; what the lifespan opens is there only while the app runs."""

from __future__ import annotations

import pytest
from asgi_lifespan import LifespanManager
from tasks_api.app import create_app
from tasks_api.settings import Settings
from tasks_api.state import AppState, api_state


async def test_the_running_parts_exist_only_inside_the_lifespan(api_settings: Settings) -> None:
    app = create_app(api_settings)
    state = api_state(app)
    assert isinstance(state, AppState)
    assert state.settings is api_settings
    with pytest.raises(RuntimeError, match="has not started"):
        _ = state.running
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        assert state.running.verifier is not None
    with pytest.raises(RuntimeError, match="has not started"):
        _ = state.running
