"""Where the fuzz suites leave what happened to each hostile kind (for the reader, not asserted)."""

import json
from pathlib import Path

from django.conf import settings


def record_fuzz_outcome(pipeline: str, **summary) -> Path:
    """Write ``artifacts/fuzz/<pipeline>.json``: counts and, per kind, the dead-letter reason or the broker's drop."""
    path = Path(settings.BASE_DIR) / "artifacts" / "fuzz" / f"{pipeline}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str))
    return path
