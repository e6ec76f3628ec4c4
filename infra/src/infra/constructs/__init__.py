"""Reusable pieces shared by the stacks."""
