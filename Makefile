# Two commands on a fresh machine with Python 3.11 and make: `make run`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= $(or $(GEOMON_DATA_DIR),$(CURDIR)/data)
STAMP  := $(VENV)/.installed

.PHONY: run test dev bench bench-comtrade clean

# The venv is rebuilt when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	GEOMON_DATA_DIR=$(DATA) $(BIN)/geomon run

# One worker per core (pytest-xdist), a test file per worker at a time so that a module's shared runs are
# built once. `$(BIN)/python -m pytest tests/test_x.py` runs in one process.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

# The Dagster UI on workspace.yaml, with an instance whose DuckDB writer pool holds one run at a time.
dev: $(STAMP)
	mkdir -p $(DATA)/dagster_home
	cp pipeline/dagster.yaml $(DATA)/dagster_home/dagster.yaml
	DAGSTER_HOME=$(DATA)/dagster_home GEOMON_DATA_DIR=$(DATA) COMTRADE_API_KEY="$${COMTRADE_API_KEY-}" \
		$(BIN)/dagster dev -w workspace.yaml

# Floor vs marts vs pandas vs end to end (issue 7): SF0.1 by default; SF=1 or SCALES="0.1 1 5" for more.
SCALES ?= $(or $(SF),0.1)
bench: $(STAMP)
	$(BIN)/python -m bench.run --scales $(SCALES)

# The UN Comtrade client against a local fake API that injects 10% faults (500+ calls).
bench-comtrade: $(STAMP)
	$(BIN)/python bench/comtrade_fault_drill.py

clean:
	rm -rf $(DATA)/work $(DATA)/demo $(DATA)/snapshots $(DATA)/geomonitor.duckdb $(DATA)/dagster_home
