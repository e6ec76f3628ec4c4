"""The INI editor changes one section and nothing else, whatever the file holds."""

from __future__ import annotations

import stat
from pathlib import Path

from city_org.inifile import read_sections, upsert_section, write_private
from hypothesis import given
from hypothesis import strategies as st

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
values = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+=", min_size=1, max_size=30
)
sections = st.dictionaries(names, st.dictionaries(names, values, max_size=4), min_size=1, max_size=5)


def render(data: dict[str, dict[str, str]]) -> str:
    blocks = []
    for name, body in data.items():
        lines = [f"# about {name}", f"[{name}]", *(f"{k} = {v}" for k, v in body.items())]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


@given(sections, names, st.dictionaries(names, values, min_size=1, max_size=3))
def test_only_the_target_section_changes(
    data: dict[str, dict[str, str]], target: str, update: dict[str, str]
) -> None:
    text = render(data)
    result = upsert_section(text, target, update)
    parsed = read_sections(result)
    assert parsed[target] == {**data.get(target, {}), **update}
    for name, body in data.items():
        if name != target:
            assert parsed[name] == body
            block = "\n".join([f"[{name}]", *(f"{k} = {v}" for k, v in body.items())])
            assert block in result
    assert upsert_section(result, target, update) == result  # a second write changes nothing


def test_none_removes_a_key_and_a_missing_section_is_appended() -> None:
    text = "[a]\nx = 1\ny = 2\n"
    assert upsert_section(text, "a", {"y": None, "z": "3"}) == "[a]\nx = 1\nz = 3\n"
    assert upsert_section(text, "b", {"k": "v"}) == "[a]\nx = 1\ny = 2\n\n[b]\nk = v\n"
    assert upsert_section("", "b", {"k": "v", "gone": None}) == "[b]\nk = v\n"


def test_write_private_replaces_the_file_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "aws" / "credentials"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["credentials"]  # no temp file left behind
