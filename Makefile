# Nanyuan CivicMap: one entry point for setting up, running and testing.
# Every target that needs the machine set up runs scripts/setup.sh first,
# which is idempotent and takes a second or two once everything is in place.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Defaults only when the environment does not already say otherwise.
export DATABASE_URL ?= postgis://root@127.0.0.1:5432/civicmap
export REDIS_URL ?= redis://127.0.0.1:6379/0

PYTEST_ARGS ?=
# `make test` runs the suite in TEST_WORKERS pytest-xdist processes (measured on 2 cores: see
# README "Tests"), each with its own test database, Redis databases and media folder
# (civicmap/settings/test.py); TEST_WORKERS=0 runs it serially in one process.
TEST_WORKERS ?= 3
RUN_LOG := var/log/run.log
RUN_PID := var/run.pid

.PHONY: run start stop setup test bench lint clean distclean help backup restore replica

help:
	@echo "make run     set up, seed the demo and run web + worker + beat (Ctrl-C stops)"
	@echo "             WITH_REPLICA=1: also start the streaming replica and read from it"
	@echo "make start   same, in the background (log $(RUN_LOG), pid $(RUN_PID))"
	@echo "make stop    stop what 'make start' started"
	@echo "make test    set up (with Chromium and the replica) and run pytest in parallel"
	@echo "             [TEST_WORKERS=3, 0 for one process] [PYTEST_ARGS=...]"
	@echo "make replica start the streaming replica on port 5433 (scripts/replica.sh)"
	@echo "make setup   only set up (packages, services, .venv, database, static)"
	@echo "make bench   run bench/run_all.py"
	@echo "make lint    ruff check, then lint-imports (the apps' layering)"
	@echo "make backup  dump the database and tar var/media into var/backups/<time>/ (prints it)"
	@echo "make restore FILE=var/backups/<time>  into a new database [RESTORE_DATABASE=...]"
	@echo "make clean   remove generated files (keeps .venv, var/media, the database)"
	@echo "make distclean  stop, clean, and remove .venv, frontend/node_modules and var/"

run:
	bash scripts/run.sh

setup:
	bash scripts/setup.sh

# Refuses to start twice; the pid is run.sh's, which stops its three
# children when it gets SIGTERM. setsid: not tied to this terminal.
start:
	@mkdir -p var/log
	@if [[ -f $(RUN_PID) ]] && kill -0 "$$(cat $(RUN_PID))" 2>/dev/null; then \
	  echo "already running (pid $$(cat $(RUN_PID))); 'make stop' first"; exit 1; \
	fi
	@setsid nohup bash scripts/run.sh >$(RUN_LOG) 2>&1 </dev/null & echo $$! >$(RUN_PID)
	@echo "started (pid $$(cat $(RUN_PID))); log: $(RUN_LOG)  (tail -f $(RUN_LOG))"

stop:
	@if [[ ! -f $(RUN_PID) ]]; then echo "not running (no $(RUN_PID))"; exit 0; fi; \
	pid="$$(cat $(RUN_PID))"; \
	if kill -TERM "$$pid" 2>/dev/null; then \
	  echo "stopping pid $$pid"; \
	  for i in $$(seq 1 150); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.2; done; \
	  if kill -0 "$$pid" 2>/dev/null; then echo "pid $$pid still running"; exit 1; fi; \
	  echo "stopped"; \
	else \
	  echo "not running (stale $(RUN_PID))"; \
	fi; \
	rm -f $(RUN_PID)

# The replica tests (tests/civicmap/test_replica.py) read from the real standby.
test:
	WITH_BROWSER=1 WITH_REPLICA=1 bash scripts/setup.sh
	.venv/bin/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# A streaming replica of the local cluster on port 5433, made once (pg_basebackup), started
# when stopped; `make run WITH_REPLICA=1` and `make test` do this themselves.
replica:
	bash scripts/replica.sh start

# The bench's child processes run Django outside DEBUG: they need the local secret too.
bench: setup
	source scripts/lib.sh && secret_key_ensure var && .venv/bin/python bench/run_all.py

# Database (pg_dump custom format) and media into var/backups/<UTC time>/; prints the path.
backup:
	@bash scripts/backup.sh

# Into a NEW database (RESTORE_DATABASE, default civicmap_restore_<time>), never over an
# existing one unless RESTORE_REPLACE=1; media into var/restored/<database>/media.
restore:
	@FILE="$(FILE)" bash scripts/restore.sh

# Only .venv is needed to lint, not the database or the services: ruff, then
# lint-imports (the layering contract in pyproject.toml, [tool.importlinter]).
lint:
	bash scripts/setup.sh --venv-only
	.venv/bin/ruff check .
	.venv/bin/lint-imports

# Keeps .venv, frontend/node_modules, uploads (var/media) and the database.
clean:
	rm -rf var/staticfiles var/test-media var/test-media-gw* var/log var/celerybeat-schedule* \
	  .pytest_cache .ruff_cache test-artifacts *.egg-info
	find . -path ./.venv -prune -o -path ./frontend/node_modules -prune -o \
	  -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: stop clean
	rm -rf .venv frontend/node_modules var
