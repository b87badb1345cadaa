"""The names every service shares come from one place (skin/contracts.py) and agree with what
each service declares in its own terms: the HTTP API's status type, the analyzer's stage list,
the table's CHECK on status."""

from __future__ import annotations

import re
from typing import get_args

from analyzer.pipeline.run import STAGES as ANALYZER_STAGES
from gateway.models import Status
from skin.contracts import STAGE_NAMES, STATUS_NAMES
from storage.migrations.runner import SQL_DIR


def test_the_http_status_type_is_the_shared_status_names():
    assert set(get_args(Status)) == set(STATUS_NAMES.values())


def test_the_analyzer_reports_exactly_the_shared_stages_in_order():
    names = [name for name, _ in ANALYZER_STAGES]
    assert names == [STAGE_NAMES[value] for value in sorted(STAGE_NAMES)]


def test_the_tables_status_check_allows_exactly_the_shared_names():
    checks = [
        match.group(1)
        for path in sorted(SQL_DIR.glob("*.sql"))
        for match in re.finditer(
            r"check \(status in \(([^)]*)\)\)", path.read_text(), re.IGNORECASE
        )
    ]
    assert checks, "no CHECK on status found in the migrations"
    allowed = set(re.findall(r"'([a-z]+)'", checks[-1]))  # the latest migration's
    assert allowed == set(STATUS_NAMES.values())
