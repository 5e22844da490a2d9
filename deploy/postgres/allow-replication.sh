#!/bin/bash
# Run once by the postgres image at initdb: let the other region stream WAL
# (password-authenticated) so it can be a replica, and later this one of it.
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
