#!/usr/bin/env bash
# The failover topology from a shell: PostgreSQL primary + synchronous replica,
# Redis + replica + 3 Sentinels, on ports 15432+ in .run/ha (HA_DATA_DIR).
#
#   scripts/ha.sh up                  start it (and migrate the app onto it)
#   scripts/ha.sh down [--purge]      stop it (--purge: delete its data)
#   scripts/ha.sh env                 print the environment that points the app at it
#   scripts/ha.sh status              roles, lag, Redis master (JSON)
#   scripts/ha.sh failover REGION     planned failover (staff API: POST /api/failover/REGION)
#   scripts/ha.sh rebuild REGION      old primary -> replica of the current one (failback)
#   scripts/ha.sh watch               run_failover_watcher (unplanned failover)
#   scripts/ha.sh drill [--unplanned] failover_drill --json
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DATA_DIR="${HA_DATA_DIR:-$PWD/.run/ha}"

with_env() {
  if [[ ! -f "$DATA_DIR/ha.env" ]]; then
    echo "no topology in $DATA_DIR: run scripts/ha.sh up" >&2
    exit 1
  fi
  set -a
  # shellcheck disable=SC1091
  . "$DATA_DIR/ha.env"
  set +a
  exec "$@"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  up) exec $PY manage.py ha_up --data-dir "$DATA_DIR" "$@" ;;
  down) exec $PY manage.py ha_down --data-dir "$DATA_DIR" "$@" ;;
  env) cat "$DATA_DIR/ha.env" ;;
  status) with_env $PY manage.py shell -c "import json; from failover.probes import failover_status; print(json.dumps(failover_status(), default=str, indent=2))" ;;
  failover) with_env $PY manage.py failover "$@" ;;
  rebuild) with_env $PY manage.py failover_rebuild "$@" ;;
  watch) with_env $PY manage.py run_failover_watcher "$@" ;;
  drill) with_env $PY manage.py failover_drill --json "$@" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
