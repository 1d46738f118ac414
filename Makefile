# Two commands on a fresh machine with Python 3.11 and make: `make run`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= $(or $(GEOMON_DATA_DIR),$(CURDIR)/data)
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast dev bench bench-comtrade bench-comext clean readme-figures

# The venv is rebuilt when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Bytecode written as for the tests (TEST_ENV below): where the environment says PYTHONDONTWRITEBYTECODE, every run
# compiled the checkout's 139 modules again (0.17 CPU-s, about half of it before the first step; 2026-12-08).
run: $(STAMP)
	PYTHONDONTWRITEBYTECODE= GEOMON_DATA_DIR=$(DATA) $(BIN)/geomon run

# One worker per core (pytest-xdist), a test file per worker at a time so that a module's shared runs are
# built once, handed out in collection order (tests/conftest.py puts the long modules first).
# `$(BIN)/python -m pytest tests/test_x.py` runs in one process.
# The tests' data folders go to the RAM disk when it has 4 GB free (a session peaked at 1.2 GB; passed tests'
# folders are removed as they pass): the CLI runs' SQLite instance and the DuckDB files fsync on every commit,
# which on a busy disk costs more than the work itself (test_refresh_safety + test_cli_failure, measured while
# other jobs used the disk: 397 s on /tmp, 164 s on /dev/shm). TEST_TMP= (empty) keeps the system's temp folder.
TEST_TMP ?= $(shell df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 && $$4 > 4000000 {print "/dev/shm"}')
# Bytecode is written even where the environment says PYTHONDONTWRITEBYTECODE (some containers do): without
# it every pytest process rewrote the assertions of its plugins' packages (hypothesis, anyio, xdist: 120
# modules) and the test modules again, 3 of the unit tier's 39 CPU-s in each process (2026-12-07). The
# __pycache__ folders are ignored by git.
TEST_ENV = PYTHONDONTWRITEBYTECODE= $(if $(TEST_TMP),TMPDIR=$(TEST_TMP) )
test: $(STAMP)
	$(TEST_ENV)$(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

# The unit tier (tests/conftest.py's docstring: parsers, SQL on the in-memory harness, CLI parsing, access
# rules), for every change: the tests with none of the marks pipeline, service, browser, world, oracle, property.
# One worker per core, tests handed out one by one (its module fixtures are small harnesses): each worker
# collects every file (about 4 CPU-s), which the second core repays (2 cores at load 6-8: 49 s against 68 s
# in one process; `$(BIN)/python -m pytest -m "..."` runs it in one).
FAST_TIER := not (pipeline or service or browser or world or oracle or property)
test-fast: $(STAMP)
	$(TEST_ENV)$(BIN)/python -m pytest -n auto --dist load -m "$(FAST_TIER)" -q

# README.md's figures block from a fresh run of the embedded default in a folder of its own (an existing
# data/ with landing files would change them); tests/test_readme_figures.py fails when the block drifts.
readme-figures: $(STAMP)
	tmp=$$(mktemp -d) && GEOMON_DATA_DIR=$$tmp $(BIN)/geomon run >/dev/null \
		&& $(BIN)/python -m pipeline.readme_figures --data $$tmp; status=$$?; rm -rf $$tmp; exit $$status

# The Dagster UI on workspace.yaml, with an instance whose DuckDB writer pool holds one run at a time.
DEV_PORT ?= 3000
dev: $(STAMP)
	mkdir -p $(DATA)/dagster_home
	cp pipeline/dagster.yaml $(DATA)/dagster_home/dagster.yaml
	DAGSTER_HOME=$(DATA)/dagster_home GEOMON_DATA_DIR=$(DATA) $(BIN)/dagster dev -w workspace.yaml -p $(DEV_PORT)

# Floor vs marts vs pandas vs end to end (issue 7): SF0.1 by default; SF=1 or SCALES="0.1 1 5" for more.
SCALES ?= $(or $(SF),0.1)
bench: $(STAMP)
	$(BIN)/python -m bench.run --scales $(SCALES)

# The UN Comtrade client against a local fake API that injects 10% faults (500+ calls).
bench-comtrade: $(STAMP)
	$(BIN)/python bench/comtrade_fault_drill.py

# The Comext file-service fault drill (issue 25): every fault kind, damaged archives, five fetches.
bench-comext: $(STAMP)
	$(BIN)/python bench/comext_fault_drill.py

clean:
	rm -rf $(DATA)/work $(DATA)/demo $(DATA)/snapshots $(DATA)/geomonitor.duckdb $(DATA)/dagster_home
