"""Edit one section of an AWS INI file (config or credentials), leaving every other line exactly as it was."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

_HEADER = re.compile(r"^\s*\[\s*(?P<name>[^\]]+?)\s*\]\s*(?:[#;].*)?$")
_KEY = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.-]+)\s*=")


def upsert_section(text: str, section: str, values: Mapping[str, str | None]) -> str:
    """Set `values` in `[section]` (None removes a key), creating the section at the end when missing."""
    lines = text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if (m := _HEADER.match(line)) and m["name"] == section), None
    )
    if start is None:
        body = [f"{key} = {value}" for key, value in values.items() if value is not None]
        prefix = [*lines, ""] if lines and lines[-1].strip() else lines
        return "\n".join([*prefix, f"[{section}]", *body]) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    pending = dict(values)
    kept: list[str] = []
    for line in lines[start + 1 : end]:
        match = _KEY.match(line)
        if match and match["key"] in pending:
            value = pending.pop(match["key"])
            if value is not None:
                kept.append(f"{match['key']} = {value}")
            continue
        kept.append(line)
    # new keys go after the last non-blank line of the section, so blank separators stay where they were
    last = max((i for i, line in enumerate(kept) if line.strip()), default=-1)
    added = [f"{key} = {value}" for key, value in pending.items() if value is not None]
    kept[last + 1 : last + 1] = added
    return "\n".join([*lines[: start + 1], *kept, *lines[end:]]) + "\n"


def read_sections(text: str) -> dict[str, dict[str, str]]:
    """A light reader used for ~/.aws/config (configparser would choke on some hand edits the CLI accepts)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            current = sections.setdefault(header["name"], {})
            continue
        if current is None or line.lstrip().startswith(("#", ";")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        current[key.strip()] = value.strip()
    return sections


def write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600 (directory 0700 when created), so keys never sit world-readable."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)
