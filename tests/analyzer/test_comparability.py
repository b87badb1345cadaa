"""Progress over time is only as good as its caveats: on real portraits, a re-take that keeps
the conditions is comparable, and each edit that changes the conditions is named by the caveat
for it, covering the concerns the edit really moved (gateway/trends.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from analyzer.pipeline.rejection import PhotoRejected
from calibration import edits
from calibration.sources import SOURCES, photo_rgb
from gateway.trends import Snapshot, compare

PORTRAITS = ("obama", "biden", "feat_single")
SAME_CONDITIONS: dict[str, Callable[[np.ndarray], bytes]] = {
    "JPEG q90": lambda rgb: edits.encode(rgb, quality=90),
    "exposure x1.1": lambda rgb: edits.encode(np.clip(rgb * 1.1, 0, 255).astype(np.uint8)),
}
OTHER_CONDITIONS: dict[str, tuple[str, Callable[[np.ndarray], bytes]]] = {
    "exposure x0.6": (
        "LIGHTING",
        lambda rgb: edits.encode(np.clip(rgb * 0.6, 0, 255).astype(np.uint8)),
    ),
    "half size": ("FACE_SIZE", lambda rgb: edits.encode(edits.rescale(rgb, 0.5))),
    "blur sigma 1.2": ("SHARPNESS", lambda rgb: edits.encode(cv2.GaussianBlur(rgb, (0, 0), 1.2))),
    "JPEG q20": ("COMPRESSION", lambda rgb: edits.encode(rgb, quality=20)),
}
BEFORE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def comparisons(run_analysis) -> dict[tuple[str, str], object]:
    """Each portrait at q95 against each edit of it (None where the edit was refused)."""
    by_name = {source.name: source for source in SOURCES}
    found: dict[tuple[str, str], object] = {}
    for name in PORTRAITS:
        rgb = photo_rgb(by_name[name])
        before = Snapshot("before", BEFORE, run_analysis(edits.encode(rgb, quality=95)))
        makers = {
            **SAME_CONDITIONS,
            **{label: make for label, (_, make) in OTHER_CONDITIONS.items()},
        }
        for label, make in makers.items():
            try:
                result = run_analysis(make(rgb))
            except PhotoRejected:  # e.g. too dark, or too small at half size
                found[name, label] = None
                continue
            found[name, label] = compare(before, Snapshot("after", BEFORE + timedelta(7), result))
    return found


def test_a_retake_in_the_same_conditions_is_comparable(comparisons):
    for name in PORTRAITS:
        for label in SAME_CONDITIONS:
            comparison = comparisons[name, label]
            assert comparison is not None, (name, label)
            assert comparison.comparable, (name, label, comparison.caveats)


def test_each_change_of_conditions_is_named(comparisons):
    checked = 0
    for name in PORTRAITS:
        for label, (code, _) in OTHER_CONDITIONS.items():
            comparison = comparisons[name, label]
            if comparison is None:
                continue
            checked += 1
            assert code in {caveat.code for caveat in comparison.caveats}, (name, label)
    assert checked >= 9  # most edits are still accepted photos


def test_what_an_edit_moves_beyond_the_noise_is_covered_by_a_caveat(comparisons):
    """A change of conditions that moved a score by more than the noise band must have made
    that concern incomparable: otherwise the report would call a camera change progress."""
    uncovered = [
        (name, label, concern, change.change)
        for (name, label), comparison in comparisons.items()
        if comparison is not None
        for concern, change in comparison.concerns.items()
        if change.direction != "steady" and change.comparable
    ]
    assert len(uncovered) <= 1, uncovered
