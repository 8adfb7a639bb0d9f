# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck migrations-check db-tests browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Serve the API on 127.0.0.1:8000 with the embedded SQLite database and the in-process worker.
run: $(STAMP)
	$(BIN)/kap-journey serve --host 127.0.0.1 --port 8000

## Lint, type-check, check migrations, then run the suite on SQLite and PostgreSQL.
test: $(STAMP) lint typecheck migrations-check browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

migrations-check: $(STAMP)
	$(BIN)/python -m tests.tools.alembic_check

browser:
	@sh tests/tools/ensure-chromium.sh

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache kap-journey.db*
