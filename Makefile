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

install: $(STAMP)

# `make run PORT=8080` serves on another port; without PORT, LOKET_PORT (or 8000) decides.
run: install
	$(BIN)/loket init --demo
	$(BIN)/loket serve$(if $(PORT), --port $(PORT))

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

bench: install
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/scheduler.py
	$(BIN)/python bench/growth.py
	$(BIN)/python bench/business_calendar.py
	test ! -f bench/audit.py || $(BIN)/python bench/audit.py
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) instance .pytest_cache
