# Two commands on a fresh machine: `make demo` (the whole loop) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow test-fast lint compile clean-state help venv redis-server-binary bench-tools

help:
	@echo "make demo   - set up .venv and run the lab-to-production loop end to end"
	@echo "make demo-prod - the same loop in the production shape (separate processes, PostgreSQL, Redis, MLflow server)"
	@echo "make test   - set up .venv and run the test suite"
	@echo "make lint   - ruff"

# The virtualenv is rebuilt whenever the pinned set or the project metadata changes.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# USE_CASE=NAME selects another installed use case (default: SHIPYARD_USE_CASE, else fraud).
USE_CASE ?=
USE_CASE_OPTION = $(if $(USE_CASE),--use-case $(USE_CASE))

demo: $(STAMP) prometheus-tools
	$(BIN)/shipyard $(USE_CASE_OPTION) demo

# The suite needs the manifest tools (.venv-tools), promtool/amtool and redis-server (the serving
# outage test starts its own Redis; Debian packages, installed when missing).
test: $(STAMP) tools-venv prometheus-tools redis-server-binary spark-venv
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -m "not slow"

# The whole-loop runs (demo loop, production shape, alert loop, retraining to a Git commit, live
# canary, a short run of the serving benchmark) and the pipeline, Spark and chunked-build tests of half a minute
# or more: several pipeline runs and servers each, tens of minutes together.
test-slow: $(STAMP) tools-venv prometheus-tools redis-server-binary spark-venv bench-tools
	$(BIN)/python -m pytest -q -m slow

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "unit"

lint: $(STAMP)
	$(BIN)/ruff check .

compile: $(STAMP)
	$(BIN)/shipyard pipeline compile

redis-server-binary:
	@command -v redis-server >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends redis-server; }

# The serving benchmark's load generators (Debian packages wrk and hey).
bench-tools:
	@command -v wrk >/dev/null 2>&1 && command -v hey >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends wrk hey; }

clean-state:
	rm -rf .shipyard

-include mk/*.mk
