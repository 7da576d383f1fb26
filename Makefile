# fti-platform: `make` lists the targets; `make run` and `make test` bootstrap the pinned environment.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed

# Keep every tool's cache and state inside the project, and every tool's telemetry off.
export UV_CACHE_DIR := $(CURDIR)/.cache/uv
export PIP_CACHE_DIR := $(CURDIR)/.cache/pip
export UV_NO_PROGRESS := 1
# Temporary files of every tool (pytest, uv, Feast) stay inside the project too.
export TMPDIR := $(CURDIR)/.cache/tmp
$(shell mkdir -p $(CURDIR)/.cache/tmp)
include telemetry.env
export

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python $(LOCK) pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set (as on these machines) every
	@# process would otherwise compile feast, prefect, mlflow and GX from source at each import.
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python $(LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

.PHONY: install
install: $(STAMP) ## Create .venv from the pinned lock file

.PHONY: lock
lock: $(BIN)/python ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o $(LOCK)

.PHONY: run
run: $(STAMP) ## Run the whole platform end to end on synthetic data (embedded default)
	$(BIN)/fti run

# Two workers (pytest-xdist), a test module per worker at a time: module fixtures (a tiny
# platform run, a Spark session) are built once. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

.PHONY: test
test: $(STAMP) ## Run every test (unit, integration, services)
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

.PHONY: test-unit
test-unit: $(STAMP) ## Run the fast unit tests only
	$(BIN)/python -m pytest -m "not integration and not services"

.PHONY: bench
bench: $(STAMP) ## Run every benchmark (figures go to BENCHMARKS.md); QUICK=1 for the CI variant
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

.PHONY: compose-check
compose-check: ## Validate docker-compose.yml (with throwaway credentials) using docker compose
	@env_file=$$(mktemp); \
	sed -e 's/^POSTGRES_PASSWORD=$$/POSTGRES_PASSWORD=check/' \
	    -e 's/^MLFLOW_ADMIN_PASSWORD=$$/MLFLOW_ADMIN_PASSWORD=check/' \
	    -e 's/^MLFLOW_FLASK_SERVER_SECRET_KEY=$$/MLFLOW_FLASK_SERVER_SECRET_KEY=check/' .env.example > $$env_file; \
	if docker compose version >/dev/null 2>&1; then compose="docker compose"; else compose=docker-compose; fi; \
	$$compose --env-file $$env_file config -q && echo "docker-compose.yml is valid ($$compose)"; \
	status=$$?; rm -f $$env_file; exit $$status

.PHONY: lint
lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: status
status: $(STAMP) ## Show every feature view's rows and freshness
	$(BIN)/fti status

.PHONY: clean
clean: ## Remove local state (.state) but keep the environment
	rm -rf .state

.PHONY: distclean
distclean: clean ## Remove the environment and caches too
	rm -rf $(VENV) .cache
