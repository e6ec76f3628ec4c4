"""Validation of IAM policy documents (SCPs and permission-set inline policies), before any AWS call."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SCP_MAX_CHARS = 5_120
PERMISSION_SET_INLINE_MAX_CHARS = 32_768

_BASE_OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
}
_OPERATOR = re.compile(
    r"^(?:(?P<set>ForAllValues|ForAnyValue):)?(?P<base>[A-Za-z]+?)(?P<ifexists>IfExists)?$"
)


def is_known_condition_operator(name: str) -> bool:
    """True for the IAM condition operators, with an optional set prefix and `IfExists` suffix."""
    if name == "Null":
        return True
    match = _OPERATOR.match(name)
    return match is not None and match.group("base") in _BASE_OPERATORS


def minified(document: Any) -> str:
    """The policy as AWS measures it: JSON without insignificant whitespace."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def canonical(text: str) -> Any:
    """A parsed policy for comparison: key order and whitespace do not count as a change."""
    return json.loads(text)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check_policy_document(document: Any, where: str, *, max_chars: int, is_scp: bool) -> list[str]:
    """Return every problem in a parsed policy; `where` names the file in each message."""
    problems: list[str] = []
    size = len(minified(document))
    if size > max_chars:
        kind = "an SCP" if is_scp else "a permission-set inline policy"
        problems.append(
            f"{where}: policy is {size} characters once whitespace is removed; "
            f"{kind} may have at most {max_chars}. Split it into two policies or use wildcards."
        )
    if not isinstance(document, dict):
        return [*problems, f"{where}: a policy must be a JSON object"]
    if document.get("Version") != "2012-10-17":
        problems.append(f'{where}: "Version" must be "2012-10-17"')
    statements = document.get("Statement")
    if statements is None:
        return [*problems, f'{where}: "Statement" is missing']
    for index, statement in enumerate(_as_list(statements)):
        at = f"{where}: Statement[{index}]"
        if not isinstance(statement, dict):
            problems.append(f"{at} must be an object")
            continue
        if statement.get("Effect") not in ("Allow", "Deny"):
            problems.append(f'{at}.Effect must be "Allow" or "Deny", not {statement.get("Effect")!r}')
        if ("Action" in statement) == ("NotAction" in statement):
            problems.append(f'{at} needs exactly one of "Action" or "NotAction"')
        if is_scp and ("Principal" in statement or "NotPrincipal" in statement):
            problems.append(f"{at}: an SCP cannot name a Principal")
        condition = statement.get("Condition", {})
        if not isinstance(condition, dict):
            problems.append(f"{at}.Condition must be an object")
            continue
        for operator, clauses in condition.items():
            if not is_known_condition_operator(operator):
                problems.append(f"{at}.Condition: unknown condition operator {operator!r}")
            if not isinstance(clauses, dict):
                problems.append(f"{at}.Condition.{operator} must map condition keys to values")
    return problems


def load_policy_file(path: Path, *, is_scp: bool) -> tuple[str | None, list[str]]:
    """Read and validate a policy file; returns (minified text or None, problems)."""
    where = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        return None, [f"{where}: cannot read policy file ({error.strerror})"]
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        return None, [f"{where}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"]
    limit = SCP_MAX_CHARS if is_scp else PERMISSION_SET_INLINE_MAX_CHARS
    problems = check_policy_document(document, where, max_chars=limit, is_scp=is_scp)
    return (None if problems else minified(document)), problems
