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

.PHONY: up preview refresh destroy psql test test-pg15 bench venv toolchain pg15 db db-stop stack clean

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

db: venv
	$(PY) scripts/localpg.py start

db-stop:
	$(PY) scripts/localpg.py stop

# select (or create) the stack; a stack made by release 0.1 is upgraded in place first
stack: venv toolchain
	@. scripts/env.sh && { pulumi stack select $(STACK) 2>/dev/null || pulumi stack init $(STACK); } \
		&& $(PY) -m script_tracking.upgrade --stack $(STACK)

up: db stack
	$(PULUMI) up --yes --stack $(STACK)
	@echo
	@echo "Installed. Look inside with: make psql   (then: SELECT * FROM script_tracking.get_execution_history();)"

preview: db stack
	$(PULUMI) preview --diff --stack $(STACK)

refresh: db stack
	$(PULUMI) refresh --yes --stack $(STACK)

destroy: db stack
	$(PULUMI) destroy --yes --stack $(STACK)
	$(PY) scripts/localpg.py stop

psql: db
	@eval "$$($(PY) scripts/localpg.py env)" && exec $$($(PY) -c 'from scripts.localpg import bin_dir; print(bin_dir() / "psql")')

# Debian's PostgreSQL 15: the second server of the fleet test and of test-pg15
pg15:
	@[ -x /usr/lib/postgresql/15/bin/postgres ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null; }

test: venv toolchain pg15
	$(PY) -m pytest -q

# the SQL suite again on Debian's PostgreSQL 15
test-pg15: venv pg15
	ST_PG_BINDIR=/usr/lib/postgresql/15/bin $(PY) -m pytest -q tests/sql

bench: venv toolchain
	$(PY) -m bench

clean:
	-$(PY) scripts/localpg.py destroy
	rm -rf .state .tools $(VENV)
