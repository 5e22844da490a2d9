"""Project-level promises: production refuses unsafe settings; migrations apply on an empty database."""

import ast
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

REPO = str(settings.BASE_DIR)
SAFE_KEY = "kq7-Zx" * 9  # 54 characters, 6 distinct (check --deploy W009)
SAFE_RABBITMQ = "amqp://tier0:s3cret@rabbitmq:5672/%2F"


def _import_production(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update({"DJANGO_SETTINGS_MODULE": "tier0site.settings.production", "RABBITMQ_URL": SAFE_RABBITMQ, **env})
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
        ({"DJANGO_SECRET_KEY": "k" * 40, "DJANGO_ALLOWED_HOSTS": "x"}, "at least 50 characters"),
        (
            {"DJANGO_SECRET_KEY": SAFE_KEY, "DJANGO_ALLOWED_HOSTS": "x", "RABBITMQ_URL": "amqp://guest:guest@rabbitmq:5672/%2F"},
            "not guest",
        ),
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


# Log lines and their rollups have composite primary keys, which the admin cannot show.
NOT_IN_ADMIN = {"SystemLog", "LogHourlyCount", "LogHourlyLatency"}
PROJECT_APPS = ("telemetry", "sessions_app", "logs", "rag", "imaging", "failover")


def test_every_project_model_is_in_the_admin():
    from django.apps import apps
    from django.contrib import admin

    missing = [
        m.__name__
        for m in apps.get_models()
        if m._meta.app_label in PROJECT_APPS and m not in admin.site._registry and m.__name__ not in NOT_IN_ADMIN
    ]
    assert missing == []


@pytest.mark.django_db
def test_admin_needs_a_staff_login_and_its_lists_render(client, staff_user, user):
    from django.contrib import admin

    assert client.get("/admin/").status_code == 302  # to the login page
    client.force_login(user)
    assert client.get("/admin/").status_code == 302  # not staff
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    for model in admin.site._registry:
        if model._meta.app_label in PROJECT_APPS:
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_the_api_root_lists_every_endpoint(api_client):
    body = api_client.get("/api/").json()
    paths = {e["path"] for e in body["endpoints"]}
    for path in ("/api/health", "/api/devices", "/api/devices/<str:device_id>/series", "/api/telemetry/rate", "/api/sites"):
        assert path in paths
    assert "/api/dashboard/simulate-user-traffic" in paths
    assert "Token" in body["authentication"]


# --- Code layout: serving code stands apart from tooling, modules stay readable ---------------------------------

BASE = Path(REPO)
SKIPPED_DIRS = {".venv", ".git", "node_modules", "staticfiles", "__pycache__"}


def _project_modules() -> list[Path]:
    return sorted(p for p in BASE.rglob("*.py") if not SKIPPED_DIRS.intersection(p.relative_to(BASE).parts))


def _imported_modules(path: Path) -> set[str]:
    """Every module an import statement names, lazy imports inside functions included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_serving_code_never_imports_devtools():
    """Simulators, publishers, benchmarks, the broker launcher and the HA topology live in devtools; nothing that
    serves production may depend on them (devtools and the tests may import anything)."""
    offenders = [
        f"{path.relative_to(BASE)} imports {name}"
        for path in _project_modules()
        if path.relative_to(BASE).parts[0] not in ("devtools", "tests")
        for name in sorted(_imported_modules(path))
        if name == "devtools" or name.startswith("devtools.")
    ]
    assert offenders == []


MAX_MODULE_LINES = 400
# Modules allowed over the limit, each with the reason it stays one file. Keep this list short.
LONG_MODULES: dict[str, str] = {
    # "path/to/module.py": "why it stays one file",
}


def test_no_module_is_over_400_lines():
    sizes = {
        str(path.relative_to(BASE)): len(path.read_text().splitlines())
        for path in _project_modules()
        if path.relative_to(BASE).parts[0] != "tests" and "migrations" not in path.parts
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES and name not in LONG_MODULES}
    assert too_long == {}
    stale = {name for name in LONG_MODULES if sizes.get(name, 0) <= MAX_MODULE_LINES}
    assert stale == set(), "these are short now (or gone): remove them from LONG_MODULES"
