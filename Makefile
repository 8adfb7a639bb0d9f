# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: serving needs only the runtime dependencies; the checks need `.[dev]` as well.
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
# pip's own upgrade is skipped: the venv's bundled pip installs an editable PEP 660 package fine,
# and upgrading it first costs a download and a reinstall on every fresh clone. --no-compile
# leaves bytecode to the first import, which compiles only the modules it uses (a few seconds
# less on a fresh clone).
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile
# The layers that run in parallel (in-process, each pytest worker with its own databases).
PARALLEL_LAYERS := -m "unit or api" -n auto --dist load

.PHONY: run test test-fast lint typecheck migrations-check db-tests browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $(RUN_STAMP)

# `.[dev]` includes the runtime dependencies, so it refreshes the run stamp too: `make run`
# after `make test` installs nothing.
$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

## Serve the API on 127.0.0.1:8000 with the embedded SQLite database and the in-process worker.
run: $(RUN_STAMP)
	$(BIN)/kap-journey serve --host 127.0.0.1 --port 8000

## Lint, type-check, check migrations, then run the suite on SQLite and PostgreSQL. The unit and
## API layers run in parallel, a worker per core up to four (each worker makes its own databases;
## more would crowd PostgreSQL's connections); the process, scale and browser layers run alone,
## as they start servers, restart PostgreSQL or time plans. Parallel, the suite takes about 9
## minutes on the 2-core CI machine instead of 14.
test: $(STAMP) lint typecheck migrations-check browser
	$(BIN)/python -m pytest $(PARALLEL_LAYERS) --maxprocesses 4
	$(BIN)/python -m pytest -m "not (unit or api)"

## The loop to run while you work: unit and API tests on SQLite only, in parallel, with smaller
## generated-input budgets (under a minute). `make test` still runs everything, as CI does.
## Bytecode stays on so pytest keeps its rewritten modules between runs (~5 s a worker).
test-fast: $(STAMP)
	PYTHONDONTWRITEBYTECODE= KAP_TEST_BACKENDS=sqlite HYPOTHESIS_PROFILE=fast \
		KAP_CONTRACT_EXAMPLES=1 $(BIN)/python -m pytest $(PARALLEL_LAYERS) -q

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
