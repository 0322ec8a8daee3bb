# Developer entry points: `make run` serves on http://127.0.0.1:8000, `make test`
# runs what CI runs. Both create .venv on first use.

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
NPM ?= npm

BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

.DEFAULT_GOAL := help
# A recipe that fails halfway must not leave a stamp behind that says it worked.
.DELETE_ON_ERROR:
.PHONY: help run test lint schema web clean

help:
	@echo "make run     install, load demo data if available, serve on http://$(HOST):$(PORT)"
	@echo "make test    ruff, mypy and pytest (PYTEST_ARGS='-x -k name' to narrow)"
	@echo "make lint    ruff and mypy only"
	@echo "make schema  write the GraphQL SDL to schema.graphql"
	@echo "make web     build the web client into web/dist (npm ci && npm run build, when sources changed)"
	@echo "make clean   remove $(VENV), caches and *.db files"

# If pip cannot be upgraded the venv is unusable: remove it so the next run starts over.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip || { rm -rf $(VENV); exit 1; }

# Order-only on the interpreter: pip touching the venv must not trigger a reinstall.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[dev]"
	@touch $@

# The web client (web/): npm ci when the lock file changes, a Vite build when a source does.
# The generated operation types (web/src/gql) and the build (web/dist) are not committed.
WEB_SOURCES := $(shell find web/src -type f -not -path 'web/src/gql/*' 2>/dev/null) \
	web/index.html web/package.json web/codegen.ts web/vite.config.ts web/tsconfig.json \
	web/.prettierrc.json web/.prettierignore schema.graphql

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
		|| { echo "The web client needs Node.js 20.19 or later with npm (found: $$(node --version 2>/dev/null || echo none))"; exit 1; }
	cd web && $(NPM) ci --no-audit --no-fund
	@touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && $(NPM) run build

web: web/dist/index.html

run: $(VENV)/.installed-run web
	@if $(BIN)/premiumchat seed-demo --help >/dev/null 2>&1; then \
		echo "Loading the demo data (premiumchat seed-demo)"; \
		$(BIN)/premiumchat seed-demo; \
	fi
	@echo "The web client is at http://$(HOST):$(PORT)/ and GraphiQL at http://$(HOST):$(PORT)/graphql"
	$(BIN)/premiumchat serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check premiumchat tests bench
	$(BIN)/ruff format --check premiumchat tests bench
	$(BIN)/mypy

test: lint web
	$(BIN)/pytest $(PYTEST_ARGS)

# Through a temporary file, so a failed export leaves the old schema.graphql intact.
schema: $(VENV)/.installed-run
	$(BIN)/premiumchat export-schema > schema.graphql.tmp || { rm -f schema.graphql.tmp; exit 1; }
	@mv schema.graphql.tmp schema.graphql

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info test-artifacts
	rm -f *.db *.db-shm *.db-wal schema.graphql.tmp
	rm -rf web/node_modules web/dist web/src/gql
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
