"""Locust: the app's users and mix, the load shapes and plans, bounded runs against the local stack or a
deployed one."""
