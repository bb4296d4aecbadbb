# Quick start: `make demo` (serve the example project with sample notifications) and
# `make test` (run the test suite). Both install what they need into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Interpreters installed with pyenv (3.11-3.13), put on PATH for tox: its discovery does
# not go through pyenv's shims reliably. Empty where pyenv is absent.
PYENV_PATHS := $(shell command -v pyenv >/dev/null 2>&1 && for v in $$(pyenv versions --bare | grep -E '^3\.1[123]\.[0-9]+$$'); do printf '%s/bin:' "$$(pyenv prefix $$v)"; done)

.PHONY: demo test test-postgres coverage lint pre-commit tox screenshots bench bench-short bench-admin clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'

# Developer tools are dependency groups (PEP 735) in pyproject.toml: pip >= 25.1's --group.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e . --group test --group browser
	touch $@

$(VENV)/.installed-dev: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $@

## demo: migrate an SQLite database, post the sample notifications, serve the admin
demo: $(VENV)/.installed
	$(BIN)/python example_project/demo.py --port $(PORT)

## test: run the whole test suite on SQLite (the package's, then the example project's)
test: $(VENV)/.installed
	$(BIN)/python -m pytest
	cd example_project && ../$(BIN)/python -m pytest

## test-postgres: the same suite against the PostgreSQL on 127.0.0.1:5432
test-postgres: $(VENV)/.installed-dev
	DB=postgres $(BIN)/python -m pytest

## coverage: branch coverage of the suite on SQLite and on PostgreSQL, combined; fails under
## the floor in pyproject.toml ([tool.coverage.report] fail_under). Needs the PostgreSQL
## on 127.0.0.1:5432 (some paths run only there, some only on SQLite).
coverage: $(VENV)/.installed-dev
	rm -f .coverage .coverage.*
	$(BIN)/python -m coverage run -m pytest -q
	DB=postgres DB_NAME=bw_notifications_cov $(BIN)/python -m coverage run -m pytest -q
	$(BIN)/python -m coverage combine --quiet
	$(BIN)/python -m coverage report

## lint: ruff (lint + format), mypy (strict on the package, bodies checked in tests; the
## example project with its own settings, example_project/mypy.ini)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd example_project && ../$(BIN)/mypy

## pre-commit: every hook on every file (ruff, django-upgrade, pyproject-fmt, typos, mypy)
pre-commit: $(VENV)/.installed-dev
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

## tox: the Python x Django x database matrix (ENVS="py312-dj60-sqlite,..." to choose)
tox: $(VENV)/.installed-dev
	PATH="$(PYENV_PATHS)$$PATH" $(BIN)/tox run $(if $(ENVS),-e $(ENVS),)

## screenshots: re-take docs/screenshots/*.png with the browser test (needs Chromium)
screenshots: $(VENV)/.installed
	cd example_project && BW_SCREENSHOTS_DIR=../docs/screenshots ../$(BIN)/python -m pytest tests/test_admin_browser.py

## bench: our endpoint against bare/raw/floor/naive under gunicorn + wrk (needs wrk)
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py

## bench-short: the same in seconds, on PostgreSQL only (what CI runs)
bench-short: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py --short --db postgres

## bench-admin: load 1,000,000 notifications into PostgreSQL and time the admin's pages
bench-admin: $(VENV)/.installed-dev
	$(BIN)/python bench/admin_dataset.py --notifications $(or $(N),1000000)
	$(BIN)/python bench/admin_timing.py --write bench/results/admin-$$(date +%Y%m%d).md

## docs: the docs site into docs/_build/html (Sphinx; warnings, broken references too, are errors)
.PHONY: docs
docs: $(VENV)/.installed-docs
	$(BIN)/python -m sphinx -n -W --keep-going -b html docs docs/_build/html

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip  # --group needs pip 25.1+
	$(BIN)/python -m pip install --quiet -e . --group docs
	touch $@

clean:
	rm -rf $(VENV) .tox example_project/db.sqlite3 *.egg-info build dist docs/_build .coverage .coverage.* htmlcov
