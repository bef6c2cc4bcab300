# The two commands a new user needs: `make up` and `make test`. Everything they need is installed
# here, from the package registries only.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test install install-test browser lint bench web

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv

# Byte-compiled up front: start-up time matters, and PYTHONDONTWRITEBYTECODE may be set.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e .
	$(BIN)/python -m compileall -q src
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test]'
	touch $@

# The job queues bench/peers.py measures Bifrost against: only `make bench` installs them.
$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test,bench]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test browser web/node_modules/.package-lock.json

# The web app's build tools and axe-core (the browser tests inject it), pinned by the lockfile.
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --silent
	touch $@

## Rebuild the web app's bundle into src/bifrost/web/static/assets/ (committed: installing
## Bifrost needs no Node); run it after changing web/src/.
web: web/node_modules/.package-lock.json
	cd web && node build.mjs

# Debian's Node (the web app's build tools) and Chromium for the browser tests; Playwright
# never downloads a browser of its own.
browser:
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "npm is missing: run 'sudo apt-get install nodejs npm' for the web app's tests"; fi; }
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' for the browser tests"; fi; }

## Install Bifrost and run it on the embedded default (SQLite file, no other server).
up: install
	$(BIN)/bifrost up

# Test processes (pytest-xdist), each taking whole files: most of a test's time is a server
# starting or an answer awaited, so one process leaves the cores idle. 2 is the measured best on
# the project's 2-core machines; 0 runs everything in this process.
TEST_WORKERS ?= 2

## Install what the tests need and run them all, on SQLite and on PostgreSQL + Redis.
test: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: install-test $(VENV)/.installed-bench
	$(BIN)/python -m bench
