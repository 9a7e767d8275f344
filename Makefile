# The two commands a new user needs: `make run` and `make test`.
# Both create the environment in .venv/ from the pinned lock file when it is missing or stale.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format lock bench static clean-run help

help:
	@echo "make run    one riskwatch run on the bundled sample data (SQLite), prints the report path"
	@echo "make test   the whole test suite (SQLite and PostgreSQL)"
	@echo "make lint   ruff (lint, format), mypy, and the import contracts (lint-imports)"
	@echo "make bench  the benchmarks in bench/, side by side with the tools a user would pick"
	@echo "make lock   re-pin requirements.lock from a fresh resolve (needs the package index)"
	@echo "make static re-copy the pinned browser libraries (app/frontend) into app/static/vendor"

# An editable install of a flat layout makes setuptools say, as a warning of its InformationOnly
# class, that folders named like the packages in the working directory take precedence: that is
# how the checkout is meant to be imported here, so the notice is filtered, and only it.
EDITABLE_NOTICE := PYTHONWARNINGS="ignore:Editable installation"

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==$$(sed -n 's/^pip==//p' requirements.lock)"
	$(EDITABLE_NOTICE) $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev,experiments]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/riskwatch db upgrade
	$(BIN)/riskwatch run

# Two pytest-xdist workers: the 2 cores of the CI runner (`make test PYTEST_WORKERS=0` runs in
# one process). Each worker has its own PostgreSQL databases (tests/conftest.py, pg_databases).
# Work stealing: a worker that runs out of tests takes some of the other's, so one long test
# at the end of a worker's share does not leave the other core idle.
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# The pages' browser libraries, pinned in app/frontend/package.json and its lock, installed by
# npm and copied into app/static/vendor (kept in git, so neither a run nor a test needs npm).
static: $(STAMP)
	npm ci --prefix app/frontend --no-audit --no-fund
	$(BIN)/python app/frontend/vendor.py

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet ".[dev,experiments]"
	( echo "# Pinned versions for the riskwatch environment (make lock regenerates it)."; \
	  echo "pip==$$(.lock-venv/bin/python -m pip --version | cut -d' ' -f2)"; \
	  .lock-venv/bin/python -m pip freeze --exclude riskwatch ) > requirements.lock
	rm -rf .lock-venv

clean-run:
	rm -rf riskwatch.db ingesteddata/* models/* reports logs .riskwatch.lock
	touch ingesteddata/.gitkeep models/.gitkeep
