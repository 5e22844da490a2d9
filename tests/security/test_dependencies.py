"""Runtime and development requirements are split: the image ships no test tools."""

import ast
from pathlib import Path

from django.conf import settings

REPO = Path(settings.BASE_DIR)
DEV_ONLY_MODULES = {"factory", "faker", "pytest", "playwright", "honcho", "ruff", "pytest_django", "pytest_asyncio"}


def _pins(name: str) -> dict:
    pins = {}
    for line in (REPO / name).read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            package, version = line.split("==")
            pins[package.lower().replace("_", "-")] = version
    return pins


def test_runtime_code_imports_no_development_tool():
    offenders = []
    for path in REPO.rglob("*.py"):
        parts = path.relative_to(REPO).parts
        if parts[0] in {"tests", ".venv", "staticfiles", "scripts"} or "migrations" in parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in DEV_ONLY_MODULES]
    assert offenders == []


def test_the_split_files_are_disjoint_and_pinned():
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text()
    assert not set(runtime) & set(dev)
    assert {"pytest", "ruff", "factory-boy", "playwright"} <= set(dev)
    assert "setuptools" in runtime and "django" in runtime
