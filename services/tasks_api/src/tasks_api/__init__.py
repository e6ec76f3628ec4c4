"""tasks_api."""
