"""Every `python -m <module>` that the Makefile, the docs and the tools tell people to run names a module that
exists: moving a module (loadtests/ into locust/, rollout/, capacity/; benchmarks/) must move its commands."""

from __future__ import annotations

import importlib.util
import re
import subprocess

import pytest

from devstack.config import REPO

WHERE = ["Makefile", "mk/*.mk", "docs/*.md", "README.md", ".github", ".ci", "*.py"]
# A placeholder such as `python -m benchmarks.<name>` is no module name.
COMMAND = re.compile(r"python -m ([a-z_][a-z_0-9]*(?:\.[a-z_][a-z_0-9]*)*)(?![\w.<])")
# Modules that exist only when something else is installed (the IdP's own entry point is idp.__main__).
NOT_OURS = {"pytest"}


def _referenced_modules() -> dict[str, str]:
    listed = subprocess.run(
        ["git", "grep", "-n", "python -m ", "--", *WHERE],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found: dict[str, str] = {}
    for line in listed.splitlines():
        for module in COMMAND.findall(line):
            found.setdefault(module, line.split(":", 2)[0] + ":" + line.split(":", 2)[1])
    return found


MODULES = _referenced_modules()


def test_the_commands_are_found() -> None:
    assert "loadtests.locust.run_local" in MODULES  # make load ENV=local
    assert "benchmarks.idp" in MODULES  # make idp-bench


@pytest.mark.parametrize("module", sorted(set(MODULES) - NOT_OURS))
def test_every_python_dash_m_names_a_module_that_exists(module: str) -> None:
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{MODULES[module]} runs `python -m {module}`, which does not exist"
    if spec.submodule_search_locations is not None:  # a package runs its __main__
        assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} has no __main__"


SCRIPT = re.compile(r"python ((?:[\w.-]+/)+[\w-]+\.py)")


def test_every_script_run_by_path_exists() -> None:
    listed = subprocess.run(
        ["git", "grep", "-n", "python ", "--", *WHERE], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout
    missing = [
        f"{line.split(':', 2)[0]}: {path}"
        for line in listed.splitlines()
        for path in SCRIPT.findall(line)
        if not (REPO / path).is_file()
    ]
    assert missing == []
