# Two commands do everything on a machine that has only Python 3.11+:
#   make run    the service on http://127.0.0.1:$(PORT) with demo data
#   make test   the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres lint install clean

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

lint: $(STAMP)
	$(BIN)/ruff check leads config tests worker.py
	$(BIN)/ruff format --check leads config tests worker.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
