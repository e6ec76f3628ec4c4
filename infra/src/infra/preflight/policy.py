"""IAM policy documents, evaluated for one request: which statements allow it and which deny it.

Enough of IAM's grammar for the project's own policies (SCPs and permission sets): Action/NotAction and
Resource/NotResource with `*` and `?` wildcards, and the condition operators String(Not)Equals,
String(Not)Like, Arn(Not)Equals, Arn(Not)Like and Bool, each also as ...IfExists and with the
ForAnyValue:/ForAllValues: set prefixes. Anything else is refused with PolicyError rather than guessed,
so a new operator in a policy makes the preflight fail loudly instead of passing silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


class PolicyError(ValueError):
    """The policy uses something this evaluator does not understand; the message names it."""


@dataclass(frozen=True)
class Request:
    """One API call as IAM sees it: the action, the resource ARN and the request context keys."""

    action: str
    resource: str = "*"
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str  # Allow | Deny
    raw: Mapping[str, Any]

    def matches(self, request: Request) -> bool:
        return (
            _matches_list(self.raw, "Action", request.action, case_sensitive=False)
            and _matches_list(self.raw, "Resource", request.resource, case_sensitive=True)
            and all(
                _condition(operator, key, values, request.context)
                for operator, keys in (self.raw.get("Condition") or {}).items()
                for key, values in keys.items()
            )
        )


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]

    def allowing(self, request: Request) -> list[Statement]:
        return [s for s in self.statements if s.effect == "Allow" and s.matches(request)]

    def denying(self, request: Request) -> list[Statement]:
        return [s for s in self.statements if s.effect == "Deny" and s.matches(request)]


def parse_policy(name: str, document: str | Mapping[str, Any]) -> Policy:
    raw = json.loads(document) if isinstance(document, str) else document
    statements = raw.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    parsed = []
    for index, statement in enumerate(statements):
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{name}: statement {index} has Effect {effect!r}")
        for key in ("Action", "Resource"):
            if (key in statement) == (f"Not{key}" in statement):
                raise PolicyError(f"{name}: statement {index} needs exactly one of {key} and Not{key}")
        for operator in statement.get("Condition") or {}:
            _operator(operator)  # refuse unknown operators up front
        parsed.append(Statement(statement.get("Sid") or f"#{index}", effect, statement))
    return Policy(name, tuple(parsed))


def load_policy(path: Path, name: str | None = None) -> Policy:
    return parse_policy(name or path.stem, path.read_text())


# --- matching -------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _pattern(glob: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{regex}$", 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def wildcard_match(glob: str, value: str, *, case_sensitive: bool = True) -> bool:
    return bool(_pattern(glob, case_sensitive).match(value))


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches_list(raw: Mapping[str, Any], key: str, value: str, *, case_sensitive: bool) -> bool:
    if key in raw:
        return any(wildcard_match(p, value, case_sensitive=case_sensitive) for p in _as_list(raw[key]))
    return not any(
        wildcard_match(p, value, case_sensitive=case_sensitive) for p in _as_list(raw[f"Not{key}"])
    )


_BASE_OPERATORS = {
    # operator: (compare, negated)
    "StringEquals": ("equals", False),
    "StringNotEquals": ("equals", True),
    "StringEqualsIgnoreCase": ("iequals", False),
    "StringNotEqualsIgnoreCase": ("iequals", True),
    "StringLike": ("like", False),
    "StringNotLike": ("like", True),
    "ArnEquals": ("like", False),  # IAM treats ArnEquals like ArnLike (wildcards allowed)
    "ArnNotEquals": ("like", True),
    "ArnLike": ("like", False),
    "ArnNotLike": ("like", True),
    "Bool": ("bool", False),
}


def _operator(operator: str) -> tuple[str | None, str, bool, bool]:
    """(set qualifier, comparison, negated, if_exists) of an operator such as ForAnyValue:StringLike."""
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise PolicyError(f"condition qualifier {qualifier!r} is not supported")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base not in _BASE_OPERATORS:
        raise PolicyError(
            f"condition operator {operator!r} is not supported by the preflight's evaluator "
            f"(known: {', '.join(sorted(_BASE_OPERATORS))}, with IfExists and ForAnyValue/ForAllValues)"
        )
    compare, negated = _BASE_OPERATORS[base]
    return qualifier or None, compare, negated, if_exists


def _compare(compare: str, pattern: str, value: str) -> bool:
    if compare == "equals":
        return pattern == value
    if compare == "iequals":
        return pattern.lower() == value.lower()
    if compare == "bool":
        return pattern.lower() == value.lower()
    return wildcard_match(pattern, value)


def _condition(operator: str, key: str, expected: Any, context: Mapping[str, str | Sequence[str]]) -> bool:
    qualifier, compare, negated, if_exists = _operator(operator)
    patterns = [str(p).lower() if compare == "bool" else str(p) for p in _as_list(expected)]
    present = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    if present is None:
        # IAM: a missing key fails a positive test and passes a negated one; IfExists passes;
        # ForAnyValue over nothing is false, ForAllValues over nothing is true.
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated
    values = _as_list(present)

    def one(value: str) -> bool:
        hit = any(_compare(compare, p, value) for p in patterns)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue" or len(values) == 1:
        return any(one(v) for v in values)
    raise PolicyError(f"{operator} on the multi-valued key {key} needs ForAnyValue or ForAllValues")
