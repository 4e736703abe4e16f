# Two commands do all the set-up: `make serve` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1

# Mermaid's single-file UMD build, fetched from the npm registry and served by the site itself.
MERMAID_VERSION := 11.12.2
MERMAID_JS := docs/assets/javascripts/mermaid.min.js

# Where Debian's PostgreSQL server binaries are; the tests start a throwaway cluster with them.
PG_INITDB ?= /usr/lib/postgresql/*/bin/initdb

.PHONY: help setup serve docs test lint bench bench-quick schemas clean chromium postgresql

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[docs,test,bench,pg]'
	touch $@

$(MERMAID_JS):
	@command -v npm >/dev/null || { echo >&2 "npm is missing: install Node.js and npm (Debian: apt-get install -y nodejs npm), then run make again."; exit 1; }
	mkdir -p .cache $(dir $@)
	cd .cache && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null
	tar -xzf .cache/mermaid-$(MERMAID_VERSION).tgz -C .cache package/dist/mermaid.min.js
	mv .cache/package/dist/mermaid.min.js $@

setup: $(BIN)/.installed $(MERMAID_JS)  ## virtual environment, pinned dependencies, mermaid.js

chromium:  ## Debian's Chromium for the browser tests, when it is missing
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo >&2 "chromium is missing: sudo apt-get install -y chromium (browser tests will be skipped)"; fi; }

postgresql:  ## Debian's PostgreSQL server for the postgresql tests, when it is missing
	@compgen -G "$(PG_INITDB)" >/dev/null || command -v initdb >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo >&2 "PostgreSQL is missing: sudo apt-get install -y postgresql, or set ORDERS_TEST_PG_URL=postgresql://USER@HOST:PORT/DB (postgresql tests will be skipped; with CI=true they fail)"; fi; }

docs: setup  ## build the site strictly into site/
	$(BIN)/mkdocs build --strict

serve: docs  ## build strictly, then serve on http://127.0.0.1:8000
	$(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8000

lint: setup  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup chromium postgresql lint  ## every test, browser tests included, on SQLite and PostgreSQL
	$(BIN)/pytest

schemas: setup  ## regenerate schemas/ from the pydantic models
	$(BIN)/python -m order_service.schemas

bench: setup  ## two full benchmark runs (about 5 minutes on 2 cores); writes its results file and re-renders the performance page
	$(BIN)/python -m order_service_bench --out design/order_service_bench/results.json
	$(BIN)/python -m order_service_bench.page

bench-quick: setup  ## the benchmark's quick mode (seconds, no verdicts), as the tests run it; commits nothing
	$(BIN)/python -m order_service_bench --quick --out .cache/bench-quick.json

clean:  ## remove everything set-up and builds made
	rm -rf $(VENV) site .cache $(MERMAID_JS) .pytest_cache .ruff_cache .hypothesis screenshots
