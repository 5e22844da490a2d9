"""Create the configured PostgreSQL database if it does not exist yet."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tier0site.settings.local")

import psycopg
from django.conf import settings

db = settings.DATABASES["default"]
conninfo = {
    k: v for k, v in {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}.items() if v
}
with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=10, **conninfo) as conn:
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
    if not exists:
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
        print(f"[bootstrap] created database {db['NAME']}")
