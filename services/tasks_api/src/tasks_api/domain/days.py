"""Execution days: the original's "MON,WED,FRI" text, parsed and normalised."""

from __future__ import annotations

from functools import lru_cache

WEEK = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_INDEX = {name: i for i, name in enumerate(WEEK)}


class InvalidDaysError(ValueError):
    """The text is not a non-empty, comma-separated subset of MON..SUN."""


@lru_cache(maxsize=128)  # every write parses its days twice (validation, next run), from a few spellings
def parse_days(text: str) -> frozenset[int]:
    """Return the weekdays (0 = Monday, as ``datetime.weekday()``) named in ``text``."""
    names = [part.strip().upper() for part in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise InvalidDaysError("must be a comma-separated list of days such as MON,WED,FRI")
    unknown = sorted({name for name in names if name not in _INDEX})
    if unknown:
        raise InvalidDaysError(f"unknown day(s) {', '.join(unknown)}: use MON, TUE, WED, THU, FRI, SAT, SUN")
    return frozenset(_INDEX[name] for name in names)


def format_days(days: frozenset[int] | set[int]) -> str:
    """Week order, no duplicates: the stored and returned form."""
    return ",".join(WEEK[i] for i in sorted(days))


def normalize_days(text: str) -> str:
    return format_days(parse_days(text))
