# Futurisys ML Deploy. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Two installs: what the processes need (make run), and the dev extras on top (make test / lint).
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP         := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help runtime setup run test test-fast lint train bench migrate screenshots clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(RUNTIME_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

runtime: $(RUNTIME_STAMP)

setup: $(STAMP) ## Create .venv with the dev extras (make run installs the runtime only; done on first use)

run: runtime ## PostgreSQL (embedded unless DATABASE_URL), migrate, train if needed, API :8000, listener, UI :8501
	$(PY) scripts/run_stack.py

# pytest runs under coverage; every Python process it starts writes its own data file ([tool.coverage.run]
# patch = subprocess), combined here. The report ends the run, most missed lines first; below the floor
# (fail_under in pyproject.toml) it exits 2, so a green pytest still fails.
test: setup ## The whole test suite against a disposable PostgreSQL, with coverage (HTML in htmlcov/)
	@$(PY) -m coverage erase
	@status=0; $(PY) -m coverage run -m pytest || status=$$?; PY=$(PY) scripts/coverage_report.sh $$status

# The edit-run loop: no browser, no bench smoke, nothing that kills processes or drains big backlogs
# (the `slow` and `browser` markers), no coverage; pytest-xdist spreads it
# over FAST_WORKERS processes (each test has its own database, each worker its own template and login
# roles). The trained store is made first, once, so the workers never train it side by side.
FAST_WORKERS ?= 2

test-fast: setup ## The quick lane: the suite less browser, bench smoke and process kills, in parallel
	@$(PY) -c 'from tests.model_cache import cached_store; cached_store(print)'
	$(PY) -m pytest -m 'not slow and not browser' -n $(FAST_WORKERS) -q $(ARGS)

lint: setup ## ruff, and the import-layering contracts
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

train: runtime ## Train the four models when artifacts are missing (FORCE=1 retrains)
	$(PY) -m model_store $(if $(FORCE),--force,)

migrate: runtime ## Apply sql/schema/ to DATABASE_URL (or the embedded PostgreSQL)
	$(PY) -m sql

bench: setup ## Latency and throughput benchmark (BENCH_FULL=1 for the long run); writes bench/results.json
	$(PY) -m bench

SHOTS := predict batch history monitoring performance models

screenshots: setup ## Shoot every dashboard page into .run/screenshots/, then refresh the README's docs/screenshots/
	@test -x /usr/bin/chromium || { echo "make screenshots needs Debian's chromium: apt-get install chromium"; exit 1; }
	rm -f $(addprefix .run/screenshots/,$(addsuffix .png,$(SHOTS)))
	$(PY) -m pytest tests/ui/test_browser.py -q -p no:cacheprovider
	cp $(addprefix .run/screenshots/,$(addsuffix .png,$(SHOTS))) docs/screenshots/

clean: ## Remove the venv, caches and the embedded database
	rm -rf $(VENV) .pgdata .run .pytest_cache .ruff_cache htmlcov .coverage .coverage.*
