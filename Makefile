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

# The tests that start servers of their own (a Prefect server, workers, the Jobs API) spend most of their
# time waiting for them: they run in a second pytest beside the others, which halves the suite's time.
STACK_TESTS := tests/operations tests/deployments/test_local_demo.py tests/deployments/test_production_shaped.py \
  tests/deployments/test_job_batches.py tests/deployments/test_pdf_on_a_worker.py

# Lint and types first, then the suite (both parts; PYTEST_ARGS goes to both) and the code layers'
# coverage of both together (files under 100 % and the total). Fails when either part fails.
test: check-lock lint
	rm -f .coverage .coverage.main .coverage.stacks
	$(TEST_ENV) COVERAGE_FILE=.coverage.stacks $(VENV)/bin/pytest -p no:cacheprovider --cov --cov-report= \
	  $(STACK_TESTS) $(PYTEST_ARGS) > .stack-tests.log 2>&1 & stacks=$$!; \
	$(TEST_ENV) COVERAGE_FILE=.coverage.main $(VENV)/bin/pytest --cov --cov-report= \
	  $(addprefix --ignore=,$(STACK_TESTS)) $(PYTEST_ARGS); main=$$?; \
	wait $$stacks; stacked=$$?; \
	echo "=== the tests that start servers of their own, run beside the others: $(STACK_TESTS)"; \
	cat .stack-tests.log; \
	$(VENV)/bin/coverage combine --keep -q .coverage.main .coverage.stacks && $(VENV)/bin/coverage report --skip-covered; \
	exit $$(( main || stacked ))
