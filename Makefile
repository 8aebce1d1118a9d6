# Receivables Sync — every target builds what it needs on first use (.venv/, .airflow/).
# See README.md ("Two commands") and RUNNING.md in the shared contract.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STATE := $(CURDIR)/.state

export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export AIRFLOW__LOGGING__LOGGING_LEVEL ?= INFO
export PYTHONPATH := $(CURDIR)/include:$(CURDIR)/plugins:$(CURDIR)
export RS_STATE_DIR := $(STATE)

PYTEST_ARGS ?=

.PHONY: help venv airflow-init demo test lint sync backfill sandbox bench clean

help:
	@echo "make demo                      sandbox + SQLite warehouse + sample data -> sync -> reconciliation report"
	@echo "make test                      lint + the whole test suite"
	@echo "make sync DATE=YYYY-MM-DD      run receivables_sync for one business day (DRY_RUN=1: change nothing)"
	@echo "make backfill FROM=... TO=...  the same for every day in the range (Airflow backfill)"
	@echo "make sandbox                   run the Codat-compatible sandbox in the foreground"
	@echo "make bench                     run the benchmarks"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

airflow-init: $(AIRFLOW_HOME)/.initialised

# SQLite metadata, examples off, dags/plugins from this checkout, the API pool; idempotent.
$(AIRFLOW_HOME)/.initialised: $(VENV)/.installed
	@mkdir -p $(AIRFLOW_HOME) $(STATE)
	@$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (cat $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	@$(BIN)/airflow pools set accounting_api 8 "Requests to the accounting API (Codat or the sandbox)" > /dev/null
	@touch $@

# ruff, then the architecture boundaries (import-linter contracts in pyproject.toml: no Airflow or sandbox in
# the pipeline, HTTP only in receivables.codat, SQL only in receivables.warehouse).
lint: $(VENV)/.installed
	$(BIN)/ruff check $(wildcard dags plugins include tests benchmarks)
	$(BIN)/lint-imports

# Two pytest-xdist workers (each gets its own Airflow metadata DB, tests/conftest.py); tests that run real
# schedulers or share Redis are one xdist group (--dist loadgroup keeps a group on one worker). The 15
# slowest tests are listed at the end. The contract tests read Codat's OpenAPI files from CODAT_OAS_DIR,
# by default ../shared/codat when that folder exists; the run says so when they are skipped.
test: TEST_WORKERS ?= 2
test: export CODAT_OAS_DIR ?= $(if $(wildcard $(CURDIR)/../shared/codat/Codat-Accounting.yaml),$(abspath $(CURDIR)/../shared/codat))
test: lint airflow-init
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15 $(PYTEST_ARGS)

demo: airflow-init
	$(BIN)/python -m local_stack demo

# DRY_RUN=1: plan and report what would change (reports/DATE/dry-run/); push nothing, change nothing.
sync: airflow-init
	@test -n "$(DATE)" || (echo "usage: make sync DATE=YYYY-MM-DD [DRY_RUN=1]"; exit 2)
	@$(BIN)/python -m local_stack sync "$(DATE)" --dry-run="$(DRY_RUN)"

backfill: airflow-init
	@test -n "$(FROM)" -a -n "$(TO)" || (echo "usage: make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD"; exit 2)
	@$(BIN)/python -m local_stack backfill "$(FROM)" "$(TO)"

# Same state (and, once the demo has run, the same API key) as the local stack, so what `make demo`
# pushed can be browsed; --seed-demo adds three demo companies if they are not there yet.
sandbox: $(VENV)/.installed
	@mkdir -p $(STATE)
	@if [ -s $(STATE)/sandbox.key ]; then export CODAT_SANDBOX_API_KEY="$$(cat $(STATE)/sandbox.key)"; fi; \
	$(BIN)/python -m codat_sandbox serve --state $(STATE)/sandbox.sqlite --seed-demo 3

bench: airflow-init
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(AIRFLOW_HOME) $(STATE) reports .pytest_cache .ruff_cache
