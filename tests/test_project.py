"""Project-level promises: production refuses unsafe settings; migrations apply on an empty database."""

import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection

REPO = str(settings.BASE_DIR)
SAFE_KEY = "k" * 40


def _import_production(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update({"DJANGO_SETTINGS_MODULE": "tier0site.settings.production", **env})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "x"}, "DJANGO_SECRET_KEY must be set"),
        (
            {"DJANGO_SECRET_KEY": "django-insecure-local-development-key-not-for-production", "DJANGO_ALLOWED_HOSTS": "x"},
            "DJANGO_SECRET_KEY",
        ),
        ({"DJANGO_SECRET_KEY": SAFE_KEY, "DJANGO_DEBUG": "true", "DJANGO_ALLOWED_HOSTS": "x"}, "DJANGO_DEBUG must be off"),
        ({"DJANGO_SECRET_KEY": SAFE_KEY}, "DJANGO_ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_unsafe_settings(env, message):
    result = _import_production(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_safe_settings():
    result = _import_production(DJANGO_SECRET_KEY=SAFE_KEY, DJANGO_ALLOWED_HOSTS="sre.example.com")
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_migrations_apply_on_an_empty_database():
    db = connection.settings_dict
    name = f"tier0_migrate_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tier0site.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}",
        }
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
        check = subprocess.run(
            [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=name) as conn:
            kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'telemetry_reading'").fetchone()[0]
        assert kind == "p"  # partitioned
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
