"""`manage.py bench_storage`: the capacity plan's byte and CPU inputs, measured in a throwaway database."""

import json
import subprocess
import sys

import pytest
from django.conf import settings

from tests.support.processes import subprocess_env


@pytest.mark.django_db
def test_bench_storage_stores_every_reading_and_reports_every_figure():
    result = subprocess.run(  # our own manage.py
        [sys.executable, "manage.py", "bench_storage", "--devices", "200", "--rounds", "2", "--batch", "150", "--json"],
        cwd=settings.BASE_DIR,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["messages"] == figures["rows"] == 400  # every reading stored once, batches split mid-round
    for name in (
        "payload_bytes_avg", "history_bytes_per_row", "history_heap_bytes_per_row", "state_bytes_per_device",
        "wal_bytes_per_message_upper_bound", "redis_device_page_100_bytes", "gzip_ratio_of_rows",
    ):  # fmt: skip
        assert figures[name] > 0, name
    assert figures["history_bytes_per_row"] >= figures["history_heap_bytes_per_row"]
    assert figures["state_bytes_per_device_before_vacuum"] >= figures["state_bytes_per_device"]
