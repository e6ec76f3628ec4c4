"""`make lint`: what it runs, and proof that each import contract breaks when its rule is broken.

The contracts are checked on a copy of the deployables' packages with one offending module added, so a
contract that names a module that does not exist, or a forbidden package spelt wrong, fails here.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.stack.dockerfile import REPO

PYPROJECT = REPO / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _tool(name: str) -> dict:
    return tomllib.loads(PYPROJECT.read_text())["tool"][name]


def _lint_recipe() -> str:
    makefile = (REPO / "Makefile").read_text()
    return makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]


def test_make_lint_runs_ruff_mypy_and_the_import_contracts() -> None:
    recipe = _lint_recipe()
    for command in (
        "$(UV) run ruff check .",
        "$(UV) run ruff format --check .",
        "$(UV) run mypy",
        "$(UV) run lint-imports",
    ):
        assert command in recipe


def test_the_help_text_names_the_paths_mypy_checks_and_each_of_them_exists() -> None:
    paths = _tool("mypy")["files"]
    help_line = _lint_recipe().splitlines()[0]
    named = re.search(r"mypy \(([^)]*)\)", help_line)
    assert named, help_line
    listed = named.group(1).split()
    for path in paths:
        assert (REPO / path).is_dir(), f"[tool.mypy] files names {path}, which does not exist"
        # services/tasks_api/src and services/idp/src are written as services/*/src in the help.
        assert path in listed or any(Path(path).match(pattern) for pattern in listed), (path, listed)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None, f"{name} is not importable"
    assert spec.submodule_search_locations, f"{name} is not a package"
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.fixture
def packages(tmp_path: Path) -> Path:
    """The contracts' root packages, copied side by side (lint-imports puts its cwd first on sys.path)."""
    for name in _tool("importlinter")["root_packages"]:
        shutil.copytree(
            _package_dir(name), tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    return tmp_path


def _lint_imports(cwd: Path, contract: str, config: Path = PYPROJECT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache", "--contract", contract, str(config)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# (contract id, the package an offending module is added to, what it imports)
VIOLATIONS = [
    ("domain-pure", "tasks_api/domain", "sqlalchemy"),
    ("domain-pure", "tasks_api/domain", "pydantic"),
    ("db-no-http", "tasks_api/db", "tasks_api.middleware"),
    ("db-no-http", "tasks_api/db", "fastapi"),
    ("no-tooling", "tasks_api", "tests"),
    ("no-tooling", "idp", "loadtests"),
    ("no-tooling", "infra", "devstack"),
    ("no-tooling", "city_org", "benchmarks"),
    ("services-apart", "tasks_api", "aws_cdk"),
    ("services-apart", "idp", "infra.environments"),
    ("api-idp-independent", "idp", "tasks_api.settings"),
]


@pytest.mark.parametrize(("contract", "package", "imported"), VIOLATIONS)
def test_each_contract_breaks_on_a_forbidden_import(
    packages: Path, contract: str, package: str, imported: str
) -> None:
    (packages / package / "offender.py").write_text(f"import {imported}\n")
    result = _lint_imports(packages, contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    offender = f"{package.replace('/', '.')}.offender"
    assert f"{offender} -> {imported} (l.1)" in result.stdout, result.stdout


def _contract(contract_id: str) -> dict:
    return next(c for c in _tool("importlinter")["contracts"] if c["id"] == contract_id)


@pytest.mark.parametrize(
    "module", [m for m in _contract("db-no-http")["source_modules"] if m != "tasks_api.db"]
)
def test_the_stores_are_database_code_too(packages: Path, module: str) -> None:
    source = packages / (module.replace(".", "/") + ".py")
    source.write_text(source.read_text() + "\nimport tasks_api.problems  # noqa: E402\n")
    result = _lint_imports(packages, "db-no-http")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{module} -> tasks_api.problems" in result.stdout, result.stdout


def test_mypy_refuses_an_import_of_a_module_that_does_not_exist(tmp_path: Path) -> None:
    """Untyped libraries are tolerated (import-untyped), a missing module is not: a moved first-party module
    must fail make lint rather than turn into Any."""
    offender = tmp_path / "offender.py"
    offender.write_text("import yaml\nimport tasks_api.no_such_module\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(PYPROJECT), "--no-incremental", str(offender)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'module named "tasks_api.no_such_module"  [import-not-found]' in result.stdout, result.stdout
    assert "yaml" not in result.stdout, result.stdout


def test_an_import_under_type_checking_is_not_a_dependency(packages: Path) -> None:
    (packages / "tasks_api/domain/offender.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sqlalchemy\n"
    )
    result = _lint_imports(packages, "domain-pure")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("package", ["tasks_api", "idp", "infra", "city_org"])
def test_a_cycle_between_sibling_modules_breaks_the_acyclic_contract(packages: Path, package: str) -> None:
    (packages / package / "first_offender.py").write_text(f"from {package} import second_offender\n")
    (packages / package / "second_offender.py").write_text(f"from {package} import first_offender\n")
    result = _lint_imports(packages, "acyclic")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"No cycles are allowed in {package}." in result.stdout, result.stdout
    assert "_offender -> ." in result.stdout, result.stdout


def test_the_contracts_name_modules_that_exist(packages: Path) -> None:
    """A contract naming a module the tree no longer has is refused, rather than silently kept."""
    config = PYPROJECT.read_text().replace('"tasks_api.middleware"', '"tasks_api.no_such_module"')
    renamed = packages / "pyproject.toml"
    renamed.write_text(config)
    result = _lint_imports(packages, "db-no-http", config=renamed)
    assert result.returncode != 0
    assert "tasks_api.no_such_module" in result.stdout + result.stderr
