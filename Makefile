# Two commands do everything on a machine that has only Python 3.11+:
#   make run    the service on http://127.0.0.1:$(PORT) with demo data
#   make test   the whole test suite
#   make test-browser  browser tests in Debian's Chromium (needs chromium, node, java)
#   make bench  throughput and latency against bare baselines
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres test-browser bench lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(BIN)/python -m leads.devserver

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite against PostgreSQL (and a Redis server, when REDIS_URL is set).
test-postgres: $(STAMP)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

# Browser tests: Playwright drives Debian's Chromium (never a downloaded one);
# axe-core, vnu-jar and Lighthouse come from npm, pinned in package-lock.json.
BROWSER_STAMP := $(VENV)/.installed-browser
NODE_STAMP := node_modules/.installed

$(BROWSER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,browser]'
	touch $(BROWSER_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

test-browser: $(BROWSER_STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest tests_browser $(PYTEST_ARGS)

# Benchmarks: not tests; prints a table of figures beside their baselines.
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check leads config tests tests_browser bench worker.py
	$(BIN)/ruff format --check leads config tests worker.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules test-artifacts
