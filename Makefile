# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# PY: the first python3 >= 3.11 on PATH (override: `make run PY=python3.13`).
PY ?= $(shell for p in python3 python3.14 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)
# `make test`, `make lint`: .venv with the dev extra. `make run`: .venv-run with the runtime dependencies only
# (what the container image installs), so running the daemon never pulls in the test tooling.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_VENV := .venv-run
RUN_STAMP := $(RUN_VENV)/.installed
PORT ?= 8080
DEMO_PORT ?= 8081

.PHONY: run test lint typecheck bench venv run-venv clean test-fast system-deps python

python:
	@test -n "$(PY)" || { echo "make: no python3 >= 3.11 on PATH; install one or pass PY=/path/to/python3" >&2; exit 1; }
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
		|| { echo "make: $(PY) is not Python >= 3.11; pass PY=/path/to/python3.11-or-newer" >&2; exit 1; }

# confseq, the reference the sequential tests check our e-processes against, is C++ built from source: its
# own build pins a pybind11 that no longer compiles on Python 3.11, so it is built here, without isolation,
# with the locked current one (and without its plotting dependencies, which the tests do not use).
$(STAMP): pyproject.toml constraints.txt | python system-deps
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt scikit-build cmake pybind11 wheel
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt --no-build-isolation --no-deps confseq \
		|| echo "make: confseq did not build (it needs Boost's headers: libboost-dev); its tests fail in CI, skip here" >&2
	touch $(STAMP)

$(RUN_STAMP): pyproject.toml constraints.txt | python
	test -x $(RUN_VENV)/bin/python || $(PY) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/pip install -q --disable-pip-version-check -c constraints.txt -e .
	touch $(RUN_STAMP)

venv: $(STAMP)

run-venv: $(RUN_STAMP)

# Debian packages the tests start for real: Prometheus, Chromium (dashboard), librsvg (SVG -> PNG); Boost's headers (confseq).
system-deps:
	@bash .ci/system-deps

run: $(RUN_STAMP)
	$(RUN_VENV)/bin/watchdog serve --config config --demo --port $(PORT) --demo-port $(DEMO_PORT)

lint: $(STAMP)
	$(BIN)/ruff check watchdog tests bench
	$(BIN)/ruff format --check watchdog tests bench
	$(BIN)/mypy  # strict, on watchdog, tests and bench (pyproject.toml's [tool.mypy] files)
	$(BIN)/lint-imports

# Most of the suite waits on real daemons' verification windows, so it runs in parallel workers
# (pytest-xdist; `make test TEST_WORKERS=0` runs it in one process).
TEST_WORKERS ?= 4

test: $(STAMP) system-deps lint
	$(BIN)/watchdog check config
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal -m 'not alone'
	# Load-sensitive tests (a service starved of CPU is slow, not down) run after, with nothing beside them.
	$(BIN)/pytest -q -p no:cacheprovider -m alone

test-fast: $(STAMP)
	$(BIN)/pytest -q -m 'not slow'

bench: $(STAMP)
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/reload.py
	$(BIN)/python bench/sources.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/backtest.py

clean:
	rm -rf $(VENV) $(RUN_VENV) data .mypy_cache .ruff_cache .pytest_cache
