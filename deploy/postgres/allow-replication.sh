#!/bin/bash
# Run once by the postgres image at initdb: a replication role of its own (REPLICATION
# LOGIN, not a superuser) that the other region streams WAL as, password-authenticated;
# so it can be a replica, and later this one of it.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$POSTGRES_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN NOSUPERUSER PASSWORD :'pw';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
