# Fengqiao: `make demo` starts a demo district, `make test` runs every check.
# Needs only python3 (3.11), git and make; everything else installs from the lock files.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON := $(BIN)/python
export PYTHONDONTWRITEBYTECODE := 1
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo run test lint typecheck migrations-check pytest pytest-pg browsers messages bench clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(BIN)/uv pyproject.toml uv.lock
	$(BIN)/uv sync --frozen --quiet
	@touch $@

node_modules/.package-lock.json: $(VENV)/.synced package.json package-lock.json
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error

install: $(VENV)/.synced node_modules/.package-lock.json

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo_district
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Starting Fengqiao at http://$(HOST):$(PORT)/ (web + background worker + scheduler). Ctrl-C stops."
	HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho -f Procfile.demo start

run: install
	HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho -f Procfile.demo start

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

migrations-check: install
	DJANGO_SETTINGS_MODULE=fengqiao.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

# Browser tests drive Debian's chromium (never a downloaded browser).
browsers:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq chromium fonts-noto-cjk >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)); \
	  else echo "chromium is not installed: browser tests will be skipped (apt-get install chromium)"; fi; \
	fi

pytest: install browsers
	$(BIN)/pytest

pytest-pg: install browsers
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} $(BIN)/pytest

test: lint typecheck migrations-check pytest

messages: install
	for app in fengqiao/*/; do if [ -d "$$app/locale" ]; then (cd $$app && ../../$(BIN)/django-admin makemessages -l zh_Hans --no-obsolete >/dev/null && ../../$(BIN)/django-admin compilemessages >/dev/null); fi; done
	cd fengqiao && ../$(BIN)/django-admin makemessages -l zh_Hans --no-obsolete -i '*/locale/*' >/dev/null && ../$(BIN)/django-admin compilemessages >/dev/null

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) node_modules staticfiles .mypy_cache .ruff_cache .pytest_cache
