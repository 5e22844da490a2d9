# Tier-0: `make run` sets up and runs the whole system; `make test` runs the tests.
SHELL := /bin/bash
PY := .venv/bin/python
WEB_PORT ?= 8000

.PHONY: bootstrap run run-ha test lint bench

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	@$(PY) manage.py migrate --noinput
	@$(PY) manage.py telemetry_partitions
	@$(PY) manage.py collectstatic --noinput -v 0
	@# Log questions work at once: a day of generated access logs, made once and ingested
	@# (ingest_logs skips what it already stored, so a second make run adds nothing).
	@mkdir -p .run
	@test -s .run/access.log || $(PY) manage.py simulate_logs .run/access.log --lines 100000 > /dev/null
	@$(PY) manage.py ingest_logs .run/access.log
	@echo ""
	@echo "  Dashboard:  http://127.0.0.1:$(WEB_PORT)/"
	@echo "  API:        http://127.0.0.1:$(WEB_PORT)/api/  (lists every endpoint; docs: /api/docs, schema: /api/schema)"
	@echo "              token: POST /api/auth/login with your username and password (README: API tokens)"
	@echo "  Admin:      http://127.0.0.1:$(WEB_PORT)/admin/"
	@echo "  Metrics:    http://127.0.0.1:$(WEB_PORT)/metrics  (staff login, or Bearer $$METRICS_TOKEN)"
	@echo "  No user is built in: create one with  $(PY) manage.py create_sre_user NAME"
	@echo "    (asks for the password, or reads SRE_USER_PASSWORD; --viewer: may not run a failover)"
	@echo "  Images and documents are yours to add:  $(PY) manage.py scan_images ../shared/seed-data/images"
	@echo "                                          $(PY) manage.py ingest_documents ../shared/seed-data/documents/"
	@echo ""
	@WEB_PORT=$(WEB_PORT) exec .venv/bin/honcho start -f Procfile

test: bootstrap
	@.venv/bin/pytest

lint:
	@.venv/bin/ruff check .

# The same system on the HA topology (PostgreSQL primary + replica, Redis + Sentinels on
# ports 15432+, data in .run/ha): started, migrated, users and tokens copied from the
# normal database (a separate one), then `make run` with its environment.
HA_DATA_DIR ?= $(CURDIR)/.run/ha
run-ha: bootstrap
	@$(PY) manage.py ha_up --data-dir "$(HA_DATA_DIR)" --copy-users
	@set -a; . "$(HA_DATA_DIR)/ha.env"; set +a; exec $(MAKE) --no-print-directory run
