# Two commands set up a fresh machine (python3 >= 3.10 and make):
#   make demo   create .venv, install, run a traced demo workload, show what was recorded
#   make test   create .venv, install, run the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test test-fast lint bench clean

# The [plot] extra (matplotlib) too, so that `show --plot` is tested for real;
# the message for a missing matplotlib is tested with it made unimportable.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev,plot]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check autoskillit_trace tests scripts
	$(BIN)/ruff format --check autoskillit_trace tests scripts
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) demo-logs bench-results.json .pytest_cache .mypy_cache .ruff_cache
