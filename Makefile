# Syncbeat: `make run` starts everything on the embedded defaults; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Procfile commands (celery, gunicorn, python) come from the project's virtualenv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
# The demo processes: web, workers, beat, and the local stand-ins for the outside world.
DEMO_PROCESSES ?= web,worker,worker_io,beat,feedfarm,marketsim

.PHONY: install run demo test lint format check-migrations bench clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

.env:
	cp .env.example .env
	@echo "created .env from .env.example (embedded defaults: SQLite and a file broker under var/)"

# A run writes nothing outside var/: no __pycache__ folders in the checkout (the
# virtualenv's own, written at install, are still read).
demo run: export PYTHONDONTWRITEBYTECODE = 1

demo: install .env
	@echo "preparing the demo: database, static files and demo data, all under var/"
	@$(VENV)/bin/honcho run $(PY) manage.py migrate --noinput -v0
	@$(VENV)/bin/honcho run $(PY) manage.py collectstatic --noinput -v0 --skip-checks
	@$(VENV)/bin/honcho run $(PY) manage.py demo --skip-checks

# bin/run starts the Procfile's processes with honcho, sends their output to var/log/ and
# prints one block (URL, logins, API token, what runs where) once everything answers.
# Workers and beat run under bin/supervise (see the Procfile): one that crashes is started
# again with backoff instead of honcho stopping everything; Ctrl-C stops it all in seconds.
run: demo
	@$(PY) bin/run $(DEMO_PROCESSES)

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check-migrations: install
	$(PY) manage.py makemigrations --check --dry-run

bench: install
	$(PY) bench/dispatch.py

clean:
	rm -rf var .pytest_cache .ruff_cache
