# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint typecheck migrations-check db-tests browser clean

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

## The loop to run while you work: unit and API tests on SQLite only, in parallel, with smaller
## generated-input budgets (under a minute). `make test` still runs everything, as CI does.
## Bytecode stays on so pytest keeps its rewritten modules between runs (~5 s a worker).
test-fast: $(STAMP)
	PYTHONDONTWRITEBYTECODE= KAP_TEST_BACKENDS=sqlite HYPOTHESIS_PROFILE=fast \
		KAP_CONTRACT_EXAMPLES=1 $(BIN)/python -m pytest -m "unit or api" -n auto --dist load -q

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
