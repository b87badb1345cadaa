"""The trend arithmetic of gateway/trends.py on made-up scores (the caveats are checked on real
photos in tests/analyzer/test_comparability.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.trends import (
    LEGACY_MARGIN,
    NO_VISIBLE_CHANGE,
    Snapshot,
    compare,
    direction,
    report,
    theil_sen,
)
from skin.intake import CONCERNS

START = datetime(2026, 1, 1, tzinfo=UTC)
RESULT: dict[str, Any] = {
    "analyzer_version": "test",
    "concerns": {name: {"score": 40.0, "margin": 4.0} for name in CONCERNS},
    "overall": {"score": 40.0, "margin": 4.0},
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


def snapshot(day: float, acne: float, acne_margin: float = 4.0, **quality: float) -> Snapshot:
    result = copy.deepcopy(RESULT)
    result["concerns"]["acne"].update(score=acne, margin=acne_margin)
    result["quality"].update(quality)
    return Snapshot(f"task-{day}", START + timedelta(days=day), result)


def test_theil_sen_ignores_one_outlier():
    points = [(0, 60), (1, 55), (2, 50), (3, 95), (4, 40)]
    assert theil_sen(points) == -5
    assert theil_sen([(1, 10)]) is None


def test_a_change_is_seen_only_past_the_pairs_detectable_change():
    assert direction(7.9, 8.0) == "steady" and direction(8.0, 8.0) == "steady"
    assert direction(-8.1, 8.0) == "better" and direction(8.1, 8.0) == "worse"
    assert direction(None, 8.0) == "steady" and direction(30.0, None) == "steady"


def test_the_same_change_is_seen_between_clean_photos_and_not_between_poor_ones():
    clean = compare(snapshot(0, 50, acne_margin=3.0), snapshot(7, 38, acne_margin=3.0))
    acne = clean.concerns["acne"]
    assert acne.detectable_change == 6.0 and acne.direction == "better"
    assert acne.summary.startswith("better by 12")
    poor = compare(snapshot(0, 50, acne_margin=9.0), snapshot(7, 38, acne_margin=6.0))
    acne = poor.concerns["acne"]
    assert acne.detectable_change == 15.0 and acne.direction == "steady"
    assert acne.summary == NO_VISIBLE_CHANGE


def test_results_stored_before_margins_keep_the_old_ten_point_band():
    old = [snapshot(0, 50), snapshot(7, 41)]
    for item in old:
        del item.result["concerns"]["acne"]["margin"]
    change = compare(*old).concerns["acne"]
    assert change.detectable_change == 2 * LEGACY_MARGIN == 10.0
    assert change.direction == "steady"


def test_acne_clearing_over_four_weeks_is_better():
    progress = report([snapshot(day, acne) for day, acne in ((0, 70), (7, 60), (14, 52), (28, 30))])
    acne = progress.concerns["acne"]
    assert [point.score for point in acne.series] == [70, 60, 52, 30]
    assert acne.direction == "better" and acne.fitted_change is not None
    assert acne.detectable_change == 8.0 and acne.fitted_change < -8.0
    assert acne.per_30_days is not None
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
