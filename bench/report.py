"""Each benchmark's figures as JSON (`--json PATH`), for `make bench` to gather into one table
and chart, and for comparing versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(path: Path | None, figures: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, default=float) + "\n")
