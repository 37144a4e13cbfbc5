# nightshift: `make demo` runs the embedded default end to end; `make test` runs the test suite.
# Both install exactly what requirements.lock pins into ./.venv first (once, and again when the
# lock changes). `make lock` updates the lock after a change to pyproject.toml's dependencies.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TEST_ENV := PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

.PHONY: demo test lint stop install lock check-lock

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "nightshift needs Python 3.11 (set PYTHON=…)"; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade "pip>=24,<27"
	$(VENV)/bin/python -m pip install -q --require-hashes --no-deps -r requirements.lock 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; test $${PIPESTATUS[0]} -eq 0
	$(VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	$(VENV)/bin/python -m pip check
	touch $@

# Resolve pyproject.toml (with the test extra) again and write every package with its hashes.
lock:
	test -x $(VENV)/bin/pip-compile || $(VENV)/bin/python -m pip install -q "pip-tools>=7.4,<8"
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --extra test \
	  --no-emit-index-url --no-emit-find-links --upgrade -o requirements.lock pyproject.toml

# Fails when pyproject.toml asks for a package or version that requirements.lock does not pin.
check-lock: install
	$(VENV)/bin/python .ci/check_lock.py

demo: install
	bash deployments/demo/local.sh demo

stop:
	bash deployments/demo/local.sh stop

# Lint (ruff's rule set in pyproject.toml) and types (mypy on the code layers; its cache in .mypy_cache).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Lint and types first, then the suite with the code layers' coverage (files under 100 % and the total).
test: check-lock lint
	$(TEST_ENV) $(VENV)/bin/pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS)
