"""The figures come from the pixels: controlled changes to a real face move them as they should."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import jsonschema
import numpy as np
import pytest

from tests.analyzer import photos

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "skin/schemas/analysis_result.schema.json").read_text()
)
# How far a score (0-100) may move when nothing about the skin changed.
STABLE_POINTS = 15.0


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return photos.astronaut()


@pytest.fixture(scope="module")
def baseline(run_analysis, face):
    return run_analysis(photos.encode(face, "PNG"))


def polygon(result, region: str) -> np.ndarray:
    return np.array(result["regions"][region]["polygon"])


def near(point, centre, tolerance: float) -> bool:
    return bool(np.hypot(point[0] - centre[0], point[1] - centre[1]) <= tolerance)


def test_result_follows_the_published_schema(baseline):
    jsonschema.validate(baseline, SCHEMA)
    assert baseline["schema_version"] == SCHEMA["properties"]["schema_version"]["const"]


def spot_sites(result, region: str, radius: float, count: int) -> list[tuple[float, float]]:
    """Places on a region's skin, clear of the spots already there and of one another: points
    of the region's box (its upper, cheek-bone part), read bilinearly from its four corners."""
    corners = polygon(result, region)
    existing = result["concerns"]["spots"]["details"]["locations"]
    sites: list[tuple[float, float]] = []
    for t in np.linspace(0.1, 0.6, 6):
        for s in np.linspace(0.25, 0.85, 7):
            top = corners[0] + s * (corners[1] - corners[0])
            bottom = corners[3] + s * (corners[2] - corners[3])
            site = tuple(top + t * (bottom - top))
            clear = all(not near(site, e["center"], e["radius"] + 3 * radius) for e in existing)
            spaced = all(not near(site, other, 3.5 * radius) for other in sites)
            if clear and spaced:
                sites.append(site)
    assert len(sites) >= count, "the test photo has no room for the spots"
    return sites[:count]


def test_planted_spots_are_found_where_planted(run_analysis, face, baseline):
    radius = 0.035 * baseline["face"]["ipd_px"]
    planted = spot_sites(baseline, "left_cheek", radius, 5)
    spotted = run_analysis(photos.encode(photos.plant_dark_spots(face, planted, radius), "PNG"))
    found = spotted["concerns"]["spots"]["details"]["locations"]
    hits = [p for p in planted if any(near(s["center"], p, radius + 3) for s in found)]
    assert len(hits) >= len(planted) - 1, (planted, found)
    before = baseline["concerns"]["spots"]["details"]["count"]
    added = spotted["concerns"]["spots"]["details"]["count"] - before
    assert len(planted) - 1 <= added <= len(planted) + 1
    assert spotted["concerns"]["spots"]["score"] > baseline["concerns"]["spots"]["score"]


def test_blur_lowers_texture_pores_and_wrinkles(run_analysis, face, baseline):
    blurred = run_analysis(photos.encode(cv2.GaussianBlur(face, (0, 0), 1.0), "PNG"))
    for concern in ("texture", "pores", "wrinkles"):
        before = baseline["concerns"][concern]["measurement"]["value"]
        after = blurred["concerns"][concern]["measurement"]["value"]
        assert after < before, (concern, before, after)


def test_reddened_patch_raises_redness_in_that_region_only(run_analysis, face, baseline):
    flushed = run_analysis(
        photos.encode(photos.redden(face, polygon(baseline, "left_cheek")), "PNG")
    )
    before = baseline["concerns"]["redness"]["details"]["regions"]
    after = flushed["concerns"]["redness"]["details"]["regions"]
    assert after["left_cheek"] - before["left_cheek"] > 3.0
    for region in ("right_cheek", "forehead", "chin", "right_under_eye"):
        assert abs(after[region] - before[region]) < 0.5, region


def exposed(face: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(face.astype(np.float32) * factor, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("change", ["brighter", "darker", "jpeg"])
def test_lighting_and_compression_move_scores_only_a_little(run_analysis, face, change):
    # The portrait is bright already (15% more clips a third of the face, and is refused as
    # overexposed), so the comparison starts from it exposed at 85%.
    base = exposed(face, 0.85)
    reference = run_analysis(photos.encode(base, "PNG"))
    if change == "jpeg":
        image = photos.encode(base, "JPEG", quality=80)
    else:
        image = photos.encode(exposed(base, 1.15 if change == "brighter" else 0.85), "PNG")
    changed = run_analysis(image)
    for concern, measured in reference["concerns"].items():
        moved = abs(changed["concerns"][concern]["score"] - measured["score"])
        assert moved <= STABLE_POINTS, (
            concern,
            measured["score"],
            changed["concerns"][concern]["score"],
        )


def test_mirrored_photo_gives_mirrored_regions_and_similar_scores(run_analysis, face, baseline):
    mirrored = run_analysis(photos.encode(np.ascontiguousarray(face[:, ::-1]), "PNG"))
    width = face.shape[1]
    for side, other in (("left", "right"), ("right", "left")):
        original = polygon(baseline, f"{side}_cheek")
        flipped = polygon(mirrored, f"{other}_cheek")
        # A region's corners come back mirrored (x -> width - x), in some order.
        original_centre = original.mean(axis=0)
        flipped_centre = flipped.mean(axis=0)
        assert abs((width - flipped_centre[0]) - original_centre[0]) < 6
        assert abs(flipped_centre[1] - original_centre[1]) < 6
    for concern, measured in baseline["concerns"].items():
        assert abs(mirrored["concerns"][concern]["score"] - measured["score"]) <= STABLE_POINTS, (
            concern
        )


def test_same_bytes_give_the_same_result(run_analysis, face):
    image = photos.encode(face, "JPEG", quality=90)
    first, second = run_analysis(image), run_analysis(image)
    first.pop("timings_ms"), second.pop("timings_ms")
    assert first == second


def test_ageing_signs_make_no_age_claim_and_ignore_the_declared_age(run_analysis, face):
    image = photos.encode(face, "PNG")
    young, old = run_analysis(image, real_age=20), run_analysis(image, real_age=77)
    assert young["ageing_signs"]["is_age_estimate"] is False
    assert young["ageing_signs"]["index"] == old["ageing_signs"]["index"]
    assert (young["ageing_signs"]["declared_age"], old["ageing_signs"]["declared_age"]) == (20, 77)
    assert "years" not in json.dumps(young["ageing_signs"])


def test_stages_are_reported_in_order_with_rising_fractions(run_analysis, face):
    events: list = []
    run_analysis(photos.encode(face), progress=events)
    assert [stage for stage, _, _ in events] == [
        "decode",
        "quality",
        "landmarks",
        "regions",
        "metrics",
        "scores",
    ]
    fractions = [fraction for _, fraction, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
