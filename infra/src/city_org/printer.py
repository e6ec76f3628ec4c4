"""Render plans and drift for a terminal or as JSON."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

from city_org.diff import Change, DriftFinding

_SIGNS = {"create": "+", "update": "~", "delete": "-", "move": ">"}
_COLOURS = {"create": "\033[32m", "update": "\033[33m", "delete": "\033[31m", "move": "\033[36m"}
_RESET = "\033[0m"
# Their key already says everything (an OU path, "policy -> target", "group/user"...).
_DOCUMENTS = {"content", "inline_policy"}
_SELF_DESCRIBING = {"ou", "attachment", "membership", "assignment", "policy_type"}


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _document_diff(old: Any, new: Any) -> list[str]:
    """A unified diff of two policy documents, pretty-printed with sorted keys so only real edits show."""

    def pretty(document: Any) -> list[str]:
        return json.dumps(document, indent=2, sort_keys=True).splitlines() if document is not None else []

    diff = difflib.unified_diff(pretty(old), pretty(new), "live", "spec", lineterm="", n=1)
    return list(diff)[2:]  # drop the ---/+++ header lines


def _fields(change: Change) -> list[str]:
    before, after = change.before or {}, change.after or {}
    if change.action == "update":
        lines = []
        for key in after:
            old, new = before.get(key), after.get(key)
            if old == new:
                continue
            if key in _DOCUMENTS:
                lines.append(f"{key}:")
                lines.extend("  " + line for line in _document_diff(old, new))
            else:
                lines.append(f"{key}: {_short(old)} -> {_short(new)}")
        return lines
    if change.action == "move":
        return [f"from {before.get('ou')} to {after.get('ou')}"]
    if change.kind in _SELF_DESCRIBING:
        return []
    shown = after if change.action == "create" else before
    return [
        f"{k}: {_short(v)}"
        for k, v in shown.items()
        if k not in {"content", "inline_policy"} and v not in (None, "", [], {})
    ]


def render_plan(changes: Sequence[Change], *, colour: bool = False) -> str:
    if not changes:
        return "No changes. AWS matches the spec."
    lines = []
    for change in changes:
        start, end = (_COLOURS[change.action], _RESET) if colour else ("", "")
        lines.append(f"{start}{_SIGNS[change.action]} {change.action} {change.kind} {change.key}{end}")
        lines.extend(f"      {field}" for field in _fields(change))
    counts = {a: sum(1 for c in changes if c.action == a) for a in ("create", "update", "move", "delete")}
    lines.append("")
    lines.append("Plan: " + ", ".join(f"{n} to {a}" for a, n in counts.items()) + ".")
    if counts["delete"]:
        lines.append("Deletions run only with --allow-delete.")
    return "\n".join(lines)


def render_drift(findings: Sequence[DriftFinding]) -> str:
    if not findings:
        return "No drift: AWS holds nothing the spec does not describe."
    lines = [f"! {f.kind} {f.key}: {f.detail}" for f in findings]
    lines.append("")
    lines.append(f"{len(findings)} drift finding(s).")
    return "\n".join(lines)


def plan_json(changes: Sequence[Change]) -> str:
    return json.dumps({"changes": [c.to_json() for c in changes]}, indent=2, ensure_ascii=False)


def drift_json(findings: Sequence[DriftFinding]) -> str:
    return json.dumps({"drift": [f.to_json() for f in findings]}, indent=2, ensure_ascii=False)
