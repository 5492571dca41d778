# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench venv clean test-fast system-deps

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests start for real: Prometheus, Chromium (dashboard), librsvg (SVG -> PNG).
system-deps:
	@bash .ci/system-deps

run: $(STAMP)
	$(BIN)/watchdog serve --config config --demo

lint: $(STAMP)
	$(BIN)/ruff check watchdog tests bench
	$(BIN)/ruff format --check watchdog tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) system-deps lint
	$(BIN)/watchdog check config
	$(BIN)/pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/pytest -q -m 'not slow'

bench: $(STAMP)
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/sources.py
	$(BIN)/python bench/backtest.py

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
