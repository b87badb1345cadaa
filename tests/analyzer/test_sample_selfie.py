"""`python -m skin.sample_selfie` writes a photo the analyzer accepts (a newcomer's first run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_sample_selfie_is_accepted(tmp_path, run_analysis):
    path = tmp_path / "me.jpg"
    written = subprocess.run(
        [sys.executable, "-m", "skin.sample_selfie", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    result = run_analysis(path.read_bytes())
    assert result["quality"]["face_count"] == 1
