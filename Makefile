# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The browser assets (web/static/dist/, not in git): npm ci from package-lock.json, then esbuild. Made again when
# the lock file or a source in web/assets/ changes. Node and npm come from Debian when they are missing.
ASSETS := web/static/dist/.built
$(ASSETS): package.json package-lock.json $(wildcard web/assets/*)
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	npm ci --no-audit --no-fund
	npm run build
	touch $(ASSETS)

# The browser tests (tests/browser) drive Debian's chromium through Playwright; Playwright's own browser download
# is never used.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

install: $(STAMP) $(ASSETS) $(CHROMIUM)

# `make run PORT=8080` serves on another port; without PORT, LOKET_PORT (or 8000) decides.
run: install
	$(BIN)/loket init --demo
	$(BIN)/loket serve$(if $(PORT), --port $(PORT))

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

# The load test's own tools (locust), kept out of `make install`: only `make bench` needs them.
BENCH := $(VENV)/.bench-installed
$(BENCH): pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH)

bench: install $(BENCH)
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/scheduler.py
	$(BIN)/python bench/growth.py
	$(BIN)/python bench/inbox.py
	$(BIN)/python bench/business_calendar.py
	$(BIN)/python bench/case_list.py
	$(BIN)/python bench/decision.py
	$(BIN)/python bench/migrate.py
	$(BIN)/python bench/scenarios.py
	test ! -f bench/audit.py || $(BIN)/python bench/audit.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules web/static/dist tests/artifacts
