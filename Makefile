# Two commands set up a fresh machine (python3 >= 3.10 and make):
#   make demo   create .venv, install, run a traced demo workload, show what was recorded
#   make test   create .venv, install, run the whole test suite
# make test-loaded runs the same suite with two CPU-bound processes beside it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test test-loaded test-fast lint bench clean

# The [plot] extra (matplotlib) too, so that `show --plot` is tested for real;
# the message for a missing matplotlib is tested with it made unimportable.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev,plot]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

PYTEST := $(BIN)/python -m pytest -q

test: $(STAMP)
	$(PYTEST)

# As on a busy CI machine: no test may depend on how fast it runs. The two
# hogs are stopped however the suite ends (Ctrl-C included).
test-loaded: $(STAMP)
	$(BIN)/python scripts/with_cpu_hogs.py --hogs 2 -- $(PYTEST)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check autoskillit_trace tests scripts
	$(BIN)/ruff format --check autoskillit_trace tests scripts
	$(BIN)/mypy

# The benchmark measures a regular install, as users get it (an editable
# install preloads modules at start-up and would flatter both tools), by a
# current pip: the console scripts written by pip < 25.0 import re (~6 ms a start).
BENCH_VENV := .venv-bench
bench:
	test -x $(BENCH_VENV)/bin/python || $(PY) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q -U pip
	$(BENCH_VENV)/bin/python -m pip install -q psrecord memory-profiler
	$(BENCH_VENV)/bin/python -m pip install -q --force-reinstall --no-deps .
	$(BENCH_VENV)/bin/python -m pip install -q .
	cd /tmp && $(CURDIR)/$(BENCH_VENV)/bin/python $(CURDIR)/scripts/bench.py --out $(CURDIR)/bench-results.json

clean:
	rm -rf $(VENV) $(BENCH_VENV) demo-logs bench-results.json .pytest_cache .mypy_cache .ruff_cache
