# Wayfare — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: run test check bench install dev clean

# One pytest worker per core; a module's tests stay on one worker (they share its fixtures).
PYTEST_ARGS ?= -n auto --dist loadscope

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: $(STAMP)

## Start Wayfare with the demo org, schema, dataset and inlet (prints a ready curl).
run: $(STAMP)
	$(BIN)/wayfare serve --demo $(ARGS)

## Run the whole test suite.
test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

## Lint, format check, strict typing and import contracts.
check: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## Benchmarks: figures next to same-run baselines (see bench/README.md).
bench: $(STAMP)
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) .wayfare .mypy_cache .ruff_cache .pytest_cache
