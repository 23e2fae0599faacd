# Quick start:  make demo  (set up + run the demo)   |   make test  (set up + run the tests)
# Both create .venv on first use (Python 3.11, pinned requirements.txt, this package editable)
# and reuse it afterwards. No sourcing needed: entry points configure localhost-only DDS.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint bench clean-runs

venv: $(STAMP)

$(STAMP): requirements.txt setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m gc_perception.suite.demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

# Every benchmark comparison in one session (< 15 min on 2 cores): bench/results/REPORT.md,
# report.json and plots, then the README's results block from them. Not the test suite.
bench: $(STAMP)
	$(BIN)/python -m bench.run_all
	$(BIN)/python -m bench.readme_sync

clean-runs:
	rm -rf runs
