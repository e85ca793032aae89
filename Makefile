# make run  - set up (virtualenv, packages, database) and serve on 127.0.0.1:$(PORT)
# make test - set up and run the test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install migrate worker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# Local use says so: without APP_ENV the service refuses default secrets (production).
export APP_ENV ?= development

migrate: install
	$(BIN)/flask db upgrade

run: migrate
	$(BIN)/gunicorn -k eventlet -w 1 --worker-connections 10000 -b 127.0.0.1:$(PORT) wsgi:app

# A local worker for both queues with its own beat (needs REDIS_URL); in production
# media and push have separate workers and beat is a process of its own (Procfile).
worker: install
	$(BIN)/celery -A celery_worker.celery worker -Q media,push -B --loglevel=INFO

# The layer contracts (.importlinter) and the linter first; pytest's summary is the last line.
lint: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check -q .

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Side by side with the Django reference, on this machine (PostgreSQL and Redis up):
# full size by default, BENCH_ARGS=--quick for a smoke run. Writes bench/RESULTS.md.
BENCH_TAG ?= $(shell date -u +%Y%m%d-%H%M)
bench: install
	PUBLIC_BASE_URL=http://127.0.0.1:8002 $(BIN)/python bench/compare.py --tag $(BENCH_TAG) -- $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
