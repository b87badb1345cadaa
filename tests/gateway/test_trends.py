"""The trend arithmetic of gateway/trends.py on made-up scores (the caveats are checked on real
photos in tests/analyzer/test_comparability.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.trends import NOISE_POINTS, Snapshot, direction, report, theil_sen
from skin.intake import CONCERNS

START = datetime(2026, 1, 1, tzinfo=UTC)
RESULT: dict[str, Any] = {
    "analyzer_version": "test",
    "concerns": {name: {"score": 40.0} for name in CONCERNS},
    "overall": {"score": 40.0},
    "face": {"ipd_px": 120.0},
    "color_correction": {"reference": "sclera"},
    "quality": {
        "yaw_degrees": 0.0,
        "pitch_degrees": 0.0,
        "sharpness": 100.0,
        "face_lightness": 60.0,
        "noise_sigma": 2.0,
        "jpeg_blockiness": 1.0,
        "clipped_fraction": 0.0,
    },
}


def snapshot(day: float, acne: float, **quality: float) -> Snapshot:
    result = copy.deepcopy(RESULT)
    result["concerns"]["acne"]["score"] = acne
    result["quality"].update(quality)
    return Snapshot(f"task-{day}", START + timedelta(days=day), result)


def test_theil_sen_ignores_one_outlier():
    points = [(0, 60), (1, 55), (2, 50), (3, 95), (4, 40)]
    assert theil_sen(points) == -5
    assert theil_sen([(1, 10)]) is None


def test_changes_within_the_noise_band_are_steady():
    assert direction(NOISE_POINTS - 0.1) == "steady"
    assert direction(-NOISE_POINTS) == "better"
    assert direction(NOISE_POINTS) == "worse"
    assert direction(None) == "steady"


def test_acne_clearing_over_four_weeks_is_better():
    progress = report([snapshot(day, acne) for day, acne in ((0, 70), (7, 60), (14, 52), (28, 30))])
    acne = progress.concerns["acne"]
    assert [point.score for point in acne.series] == [70, 60, 52, 30]
    assert acne.direction == "better" and acne.fitted_change is not None
    assert acne.fitted_change < -NOISE_POINTS and acne.per_30_days is not None
    assert progress.concerns["redness"].direction == "steady"
    assert progress.latest_change is not None
    assert progress.latest_change.concerns["acne"].change == -22


def test_a_photo_in_other_light_is_left_out_of_the_trend():
    # The middle photo is dark: its low score is the light, not the skin.
    dark = snapshot(7, 10, face_lightness=35.0)
    progress = report([snapshot(0, 50), dark, snapshot(14, 52)])
    tone = progress.concerns["tone_unevenness"]
    assert [point.comparable for point in tone.series] == [True, False, True]
    # Acne is not moved by light, so the dark photo counts there.
    assert all(point.comparable for point in progress.concerns["acne"].series)
    latest = progress.latest_change
    assert latest is not None and not latest.comparable
    assert [caveat.code for caveat in latest.caveats] == ["LIGHTING"]


def test_no_analyses_is_an_empty_report():
    progress = report([])
    assert progress.analyses == [] and progress.concerns == {} and progress.latest_change is None
