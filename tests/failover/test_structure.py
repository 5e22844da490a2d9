"""Layering: settings import no app code, no cycle with tier0site.health, serving code never imports devtools."""

import ast
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

REPO = Path(settings.BASE_DIR)
PROJECT_PACKAGES = ("tier0site", "telemetry", "sessions_app", "rag", "imaging", "failover", "dashboard", "devtools", "logs")
SKIP_DIRS = {".venv", "tests", "migrations", "node_modules", "staticfiles", ".git", ".run", "artifacts"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _serving_modules():
    for path in REPO.rglob("*.py"):
        parts = path.relative_to(REPO).parts
        if parts[0] in PROJECT_PACKAGES and parts[0] != "devtools" and not SKIP_DIRS.intersection(parts):
            yield path


def test_settings_import_no_app_code_even_in_ha_mode():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="tier0site.settings.local",
        HA_DATABASE_HOSTS="127.0.0.1:1,127.0.0.1:2",
        REDIS_SENTINELS="127.0.0.1:3",
    )
    code = (
        "import importlib, sys; importlib.import_module('tier0site.settings.local');"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {PROJECT_PACKAGES!r} and not m.startswith('tier0site.settings') and m != 'tier0site'))"
    )
    result = subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_failover_never_imports_tier0site_health():
    for path in (REPO / "failover").rglob("*.py"):
        assert "tier0site.health" not in _imports(path), path


def test_serving_code_never_imports_devtools():
    offenders = [str(p) for p in _serving_modules() if any(m.split(".")[0] == "devtools" for m in _imports(p))]
    assert offenders == []


def test_failover_and_devtools_modules_stay_under_400_lines():
    for package in ("failover", "devtools"):
        for path in (REPO / package).rglob("*.py"):
            if "migrations" not in path.parts:
                assert len(path.read_text().splitlines()) <= 400, path
