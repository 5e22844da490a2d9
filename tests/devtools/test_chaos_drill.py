"""`manage.py chaos_drill --quick`: every fault is drilled on the drill's own services and reported.

The drill starts its own PostgreSQL, Redis, Mosquitto and RabbitMQ on loopback
ports (never the machine's), runs the real consumer commands against them and
kills each component under load. Where the design promises no loss (everything
but a Mosquitto crash, whose cost depends on autosave), nothing acknowledged may
be missing.
"""

import json
import subprocess
import sys

import pytest
from django.conf import settings

from devtools.chaos import FAULTS

FIGURES = ("acknowledged", "stored", "lost", "duplicates", "catch_up_s")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drill_lines() -> list[dict]:
    result = subprocess.run(  # our own manage.py
        [sys.executable, "manage.py", "chaos_drill", "--quick", "--json"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def test_one_line_per_fault_then_the_control(drill_lines):
    assert [line["fault"] for line in drill_lines] == [*FAULTS, "steady"]


def test_every_figure_is_reported(drill_lines):
    for line in drill_lines:
        for pipeline in ("telemetry", "sessions"):
            assert line[pipeline]["acknowledged"] > 0, (line["fault"], pipeline)
        for key in FIGURES:
            assert key in line, (line["fault"], key)
        if line["fault"] != "steady":
            assert line["catch_up_s"] is not None, f"{line['fault']}: ingest never caught up"


def test_nothing_acknowledged_is_lost_where_the_design_promises_it(drill_lines):
    for line in drill_lines:
        if not line["loss_allowed"]:
            assert line["lost"] == 0, line
            assert line["telemetry"]["lost"] == line["sessions"]["lost"] == 0, line
        assert line["stored"] + line["lost"] == line["acknowledged"]
        assert line["duplicates"] == 0, line
