"""failover_drill end to end: the app's own settings block routes the writes (subprocess)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [pytest.mark.ha, pytest.mark.slow]


def _drill(ha, *args):
    env = {**os.environ, **ha.env(), "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{ha.database}", "LOG_LEVEL": "WARNING"}
    result = subprocess.run(  # noqa: S603 - our own manage.py
        [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "failover_drill",
            "--json",
            "--before",
            "1",
            "--after",
            "1",
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["planned", "unplanned"])
def test_drill_loses_no_acknowledged_write(ha, healthy, redis_replica_synced, mode):
    redis_replica_synced()
    figures = _drill(ha, *(["--unplanned"] if mode == "unplanned" else []))
    assert figures["mode"] == mode
    assert figures["acknowledged_writes"] > 100
    assert figures["lost_writes"] == 0
    # A commit the dying primary applied but could not acknowledge is retried: at most one copy extra.
    assert figures["duplicate_writes"] <= 1
    assert figures["write_unavailable_s"] < (3 if mode == "planned" else 8)
    assert figures["target_region"] == healthy[1]
    assert "promote" in figures["steps"]
    assert figures["rebuild_method"] in ("pg_rewind", "pg_basebackup")
