"""Writes the published JSON Schemas of the intake and the routine from their models:
`python -m skin.schema_files` (a test fails when the committed files are stale)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from skin.intake import Intake
from skin.routine import Routine

SCHEMA_DIR = Path(__file__).parent / "schemas"
PUBLISHED: dict[str, type[BaseModel]] = {
    "intake.schema.json": Intake,
    "routine.schema.json": Routine,
}


def render(model: type[BaseModel]) -> str:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(),
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    for name, model in PUBLISHED.items():
        (SCHEMA_DIR / name).write_text(render(model))


if __name__ == "__main__":
    main()
