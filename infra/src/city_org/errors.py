"""Errors the CLI turns into a one-line message and a non-zero exit code (never a traceback)."""

from __future__ import annotations


class CityOrgError(Exception):
    """A problem the operator can fix; the message says what and where."""

    exit_code = 1


class SpecError(CityOrgError):
    """The organization spec or a policy file is wrong. Carries every problem found, not only the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class AwsError(CityOrgError):
    """An AWS call failed in a way the operator can act on."""
