# Two commands do all the set-up: `make serve` and `make test`. `make check` is the inner loop.
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
# axe-core, injected into each built page by tests/browser/test_accessibility.py (which reads this
# version); a test tool, so it stays in .cache/ and never reaches the site.
AXE_VERSION := 4.14.1
AXE_JS := .cache/axe-core-$(AXE_VERSION).min.js

# The playground's runtime (docs/playground.md), fetched from the npm registry like mermaid.js and
# loaded by that page only: Pyodide (CPython in WebAssembly) and ajv's draft 2020-12 browser bundle
# with ajv-formats' format checks. A stamp per version: changing a version fetches again.
VENDOR := docs/assets/vendor
PYODIDE_VERSION := 314.0.7
PYODIDE_FILES := pyodide.js pyodide.asm.mjs pyodide.asm.wasm python_stdlib.zip pyodide-lock.json
PYODIDE_STAMP := $(VENDOR)/pyodide/.version-$(PYODIDE_VERSION)
AJV_DIST_VERSION := 8.17.1
AJV_FORMATS_VERSION := 3.0.1
AJV_STAMP := $(VENDOR)/ajv/.version-$(AJV_DIST_VERSION)-$(AJV_FORMATS_VERSION)
# The AsyncAPI Initiative's parser, which validates docs/design/asyncapi.json: pinned with its whole
# dependency tree by design/asyncapi/package-lock.json, installed by `npm ci` into .cache/asyncapi.
ASYNCAPI_VALIDATOR := .cache/asyncapi/.installed
NEED_NPM = command -v npm >/dev/null || { echo >&2 "npm is missing: install Node.js and npm (Debian: apt-get install -y nodejs npm), then run make again."; exit 1; }

# Where Debian's PostgreSQL server binaries are; the tests start a throwaway cluster with them.
PG_INITDB ?= /usr/lib/postgresql/*/bin/initdb

# `make test` runs pytest on TEST_WORKERS pytest-xdist workers; `--dist loadfile` keeps each test
# file on one worker, so a module fixture (the installed action, the quick benchmark, a browser
# page) is made once. The workers share one site build (tests/conftest.py). --durations=25 prints the slowest
# tests, then the summed time per folder, before pytest's closing line. Extra options:
# `make test PYTEST_ARGS="-m 'not fault'"` skips the long crash and kill tests locally (CI never does).
TEST_WORKERS ?= 2
PYTEST_ARGS ?=
# The inner loop's tests: the unit tests with no server, no browser, nothing marked slow.
CHECK_MARKERS := not slow and not postgresql and not kafka and not browser

# Apache Kafka's jars (design/kafka/pom.xml pins kafka_2.13), copied from Maven Central by Maven.
KAFKA_LIBS := .cache/kafka/libs
KAFKA_STAMP := $(KAFKA_LIBS)/.installed

.PHONY: help setup up serve docs check unit test lint bench bench-quick schemas openapi asyncapi clean chromium curl postgresql java kafka

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[docs,test,bench,http,pg,kafka]'
	touch $@

$(MERMAID_JS):
	@$(NEED_NPM)
	mkdir -p .cache $(dir $@)
	cd .cache && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null
	tar -xzf .cache/mermaid-$(MERMAID_VERSION).tgz -C .cache package/dist/mermaid.min.js
	mv .cache/package/dist/mermaid.min.js $@

$(AXE_JS):
	@command -v npm >/dev/null || { echo >&2 "npm is missing: install Node.js and npm (Debian: apt-get install -y nodejs npm), then run make again."; exit 1; }
	mkdir -p .cache
	cd .cache && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null
	tar -xzOf .cache/axe-core-$(AXE_VERSION).tgz package/axe.min.js > $@.part
	mv $@.part $@


$(ASYNCAPI_VALIDATOR): design/asyncapi/package.json design/asyncapi/package-lock.json
	@$(NEED_NPM)
	rm -rf $(dir $@) && mkdir -p $(dir $@)
	cp design/asyncapi/package.json design/asyncapi/package-lock.json $(dir $@)
	cd $(dir $@) && npm ci --silent --no-audit --no-fund
	touch $@

$(PYODIDE_STAMP):
	@$(NEED_NPM)
	rm -rf $(VENDOR)/pyodide && mkdir -p .cache $(VENDOR)/pyodide
	cd .cache && npm pack --silent pyodide@$(PYODIDE_VERSION) >/dev/null
	tar -xzf .cache/pyodide-$(PYODIDE_VERSION).tgz -C $(VENDOR)/pyodide --strip-components=1 \
	  $(addprefix package/,$(PYODIDE_FILES))
	touch $@

# ajv-formats ships CommonJS only; its formats.js requires nothing, so a wrapper that hands it an
# `exports` object is all a browser needs (window.ajvFormats.fullFormats).
$(AJV_STAMP):
	@$(NEED_NPM)
	rm -rf $(VENDOR)/ajv && mkdir -p .cache $(VENDOR)/ajv
	cd .cache && npm pack --silent ajv-dist@$(AJV_DIST_VERSION) ajv-formats@$(AJV_FORMATS_VERSION) >/dev/null
	tar -xzf .cache/ajv-dist-$(AJV_DIST_VERSION).tgz -O package/dist/ajv2020.min.js \
	  | sed '/^\/\/# sourceMappingURL=/d' > $(VENDOR)/ajv/ajv2020.min.js
	{ echo '(function (exports) {'; \
	  tar -xzf .cache/ajv-formats-$(AJV_FORMATS_VERSION).tgz -O package/dist/formats.js \
	    | sed '/^\/\/# sourceMappingURL=/d'; \
	  echo '})((window.ajvFormats = {}));'; } > $(VENDOR)/ajv/ajv-formats.js
	touch $@


setup: $(BIN)/.installed $(MERMAID_JS) $(AXE_JS) $(PYODIDE_STAMP) $(AJV_STAMP) $(ASYNCAPI_VALIDATOR)  ## virtual environment, pinned dependencies, mermaid.js, axe-core, the playground's Pyodide and ajv, the AsyncAPI parser

chromium:  ## Debian's Chromium for the browser tests, when it is missing
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo >&2 "chromium is missing: sudo apt-get install -y chromium (browser tests will be skipped)"; fi; }

curl:  ## curl, which the Run page's HTTP session uses, when it is missing
	@command -v curl >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq curl >/dev/null; \
	  else echo >&2 "curl is missing: sudo apt-get install -y curl (the curl session test will fail)"; fi; }

postgresql:  ## Debian's PostgreSQL server for the postgresql tests, when it is missing
	@compgen -G "$(PG_INITDB)" >/dev/null || command -v initdb >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo >&2 "PostgreSQL is missing: sudo apt-get install -y postgresql, or set ORDERS_TEST_PG_URL=postgresql://USER@HOST:PORT/DB (postgresql tests will be skipped; with CI=true they fail)"; fi; }

java:  ## Java 17+ and Maven for the Kafka broker, from Debian when they are missing
	@{ command -v java >/dev/null && command -v mvn >/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jdk-headless maven >/dev/null; \
	  else echo >&2 "Java or Maven is missing: sudo apt-get install -y default-jdk-headless maven, or set ORDERS_TEST_KAFKA=HOST:PORT (kafka tests will be skipped; with CI=true they fail)"; fi; }

$(KAFKA_STAMP): design/kafka/pom.xml
	@command -v mvn >/dev/null || { echo >&2 "mvn is missing: make java (as root), or sudo apt-get install -y default-jdk-headless maven"; exit 1; }
	rm -rf $(KAFKA_LIBS)
	mvn -q -B -Dstyle.color=never -f design/kafka/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
	  -DoutputDirectory=$(CURDIR)/$(KAFKA_LIBS)
	touch $@

kafka: java $(KAFKA_STAMP)  ## Apache Kafka's jars from Maven Central into .cache/kafka/libs (the tests start a broker from them)

up: setup postgresql kafka  ## the whole diagram on one machine: PostgreSQL, Kafka, the API, relay, projector, notifier (Ctrl-C stops)
	$(BIN)/python -m order_service_bench.up

docs: setup  ## build the site strictly into site/
	$(BIN)/mkdocs build --strict

serve: docs  ## build strictly, then serve on http://127.0.0.1:8000
	$(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8000

lint: setup  ## ruff, and mypy in strict mode over design/ ([tool.mypy] in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup chromium curl postgresql kafka lint  ## every test, browser tests included, on SQLite, PostgreSQL and Kafka
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

check: lint unit  ## the inner loop (under a minute once set up): lint, then the fast unit tests

unit: setup  ## the unit tests that need no server and no browser, and are not marked slow
	$(BIN)/pytest tests/unit -q -m "$(CHECK_MARKERS)"

schemas: setup  ## regenerate schemas/ from the pydantic models
	$(BIN)/python -m order_service.contract.schemas

openapi: setup  ## regenerate docs/design/openapi.json from the HTTP API
	$(BIN)/python -m order_service.entrypoints.http_api docs/design/openapi.json

asyncapi: setup  ## regenerate docs/design/asyncapi.json from the code, then validate it with the AsyncAPI parser
	$(BIN)/python -m order_service.contract.asyncapi
	NODE_PATH=$(dir $(ASYNCAPI_VALIDATOR))node_modules node design/asyncapi/validate.cjs docs/design/asyncapi.json

bench: setup postgresql kafka  ## two full benchmark runs, SQLite and PostgreSQL (8 to 13 minutes on 2 cores before the pipeline's Kafka variant, which adds a third of the pipeline section; longer on a busy machine); writes its results file and re-renders the performance page
	$(BIN)/python -m order_service_bench --out design/order_service_bench/results.json
	$(BIN)/python -m order_service_bench.page

bench-quick: setup postgresql kafka  ## the benchmark's quick mode (seconds, no verdicts), as the tests run it; commits nothing
	$(BIN)/python -m order_service_bench --quick --out .cache/bench-quick.json

clean:  ## remove everything set-up and builds made
	rm -rf $(VENV) site .cache $(MERMAID_JS) $(VENDOR) .pytest_cache .ruff_cache .hypothesis screenshots
