"""Fixtures for the log tests: a small generated log, ingested."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools.logsim import generate_lines
from logs.services import log_file_ingest

END = datetime(2024, 10, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def logs(db, tmp_path):
    path = Path(tmp_path) / "api.log"
    lines = list(generate_lines(lines=3_000, seed=5, end=END, hours=3, ips=30))
    path.write_text("\n".join(lines) + "\n")
    log_file_ingest(path=path)
    return lines
