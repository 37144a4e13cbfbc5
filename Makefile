# nightshift: `make demo` runs the embedded default end to end; `make test` runs the test suite.
# Both install everything into ./.venv first (once, and again when pyproject.toml changes).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv

.PHONY: demo test stop install

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "nightshift needs Python 3.11 (set PYTHON=…)"; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[test]"
	touch $@

demo: install
	bash deployments/local.sh demo

stop:
	bash deployments/local.sh stop

test: install
	PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
	  $(VENV)/bin/pytest $(PYTEST_ARGS)
