# medbill: the two commands a new machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test setup lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## run: build the reference store (SQLite, no PHI) from the official code sets, look a code up, then create
##      the demo practice (a disposable database in .demo/, made anew each run) and open the web app on it
DEMO_HOME ?= .demo
run: $(STAMP)
	$(BIN)/medbill data build
	$(BIN)/medbill code E11.9 --date 2026-04-01
	$(BIN)/medbill search "type 2 diabetes with diabetic neuropathy" --limit 5
	rm -rf $(DEMO_HOME) && mkdir -p $(DEMO_HOME)
	MEDBILL_HOME=$(DEMO_HOME) MEDBILL_REFDATA="$$($(BIN)/python -c 'from medbill.settings import Settings; print(Settings.from_env().refdata_path)')" \
	  sh -c '$(BIN)/medbill demo && echo && echo "web app: http://127.0.0.1:8000/web/  (API: http://127.0.0.1:8000/docs; Ctrl-C stops)" && exec $(BIN)/medbill serve'

## test: the whole test suite (tests needing ../shared skip unless MEDBILL_SOURCE_DIR is set)
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## bench: speed (a fresh build, lookups, searches, against the peers) and search quality
bench: $(STAMP)
	$(BIN)/medbill data build > /dev/null
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info
