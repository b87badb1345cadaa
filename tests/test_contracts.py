"""The names and limits every service shares come from one place (skin/contracts.py) and agree
with what each service declares in its own terms: the HTTP API's status type, the analyzer's
stage list, the table's CHECK on status, the upload limit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import get_args

from analyzer.pipeline.limits import PHOTO_LIMITS
from analyzer.pipeline.run import STAGES as ANALYZER_STAGES
from gateway.models import Status
from skin.contracts import MAX_PHOTO_BYTES, STAGE_NAMES, STATUS_NAMES
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


def test_a_gateway_that_would_take_bigger_photos_than_the_analyzer_does_not_start(tmp_path):
    # Found: MAX_UPLOAD_BYTES raised past the analyzer's limit made every large photo a
    # RESOURCE_EXHAUSTED that the runner retried as "busy" for two minutes.
    env = {
        **os.environ,
        "MAX_UPLOAD_BYTES": str(MAX_PHOTO_BYTES + 1),
        "GATEWAY_PORT": "0",
        "DATA_DIR": str(tmp_path),
    }
    started = subprocess.run(
        [sys.executable, "-m", "gateway"], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode != 0
    assert "max_upload_bytes" in started.stderr and str(MAX_PHOTO_BYTES) in started.stderr
    assert PHOTO_LIMITS.max_bytes == MAX_PHOTO_BYTES  # the analyzer's own limit is the contract
