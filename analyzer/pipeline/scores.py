"""From measurements to 0-100 scores (higher = more of the concern), severity words, skin age.

Each score maps one measurement linearly from `none` (score 0) to `full` (score 100), clipped.
The anchors are set on the analyzer's own measurements of clear and of marked skin; they are
data, listed in docs/metrics.md, and the scores are measurements, not a diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ScoreRule:
    measurement: str  # key of the concern's measurement
    none: float
    full: float
    unit: str


# Anchors set on the calibration portraits (docs/calibration.md) so that real faces spread over
# the scale: each `none` sits below the smoothest measured face, each `full` above the most
# marked, with room for a planted or real change to show.
SCORE_RULES: dict[str, ScoreRule] = {
    "redness": ScoreRule("erythema_excess", 2.0, 40.0, "100 ln(R/G) above the face's baseline"),
    "spots": ScoreRule("weighted_count", 0.0, 16.0, "clear spots"),
    "acne": ScoreRule("weighted_count", 0.0, 9.0, "clear lesions"),
    "pores": ScoreRule("per_cm2", 0.3, 5.0, "pores per cm²"),
    "texture": ScoreRule("band_pass_std", 5.0, 35.0, "100 ln luminance"),
    "wrinkles": ScoreRule("line_fraction", 0.005, 0.40, "share of pixels on a line"),
    "shine": ScoreRule("t_zone_highlight_fraction", 0.0, 0.3, "share of T-zone"),
    # -4: an under-eye 4 L* lighter than the rest of the face makes of it in this light (the
    # lightest calibration faces, concealer on two of them, measure -3.7 to -2); 12: above the
    # most marked calibration face (10.4) with room for the goal's under-eyes 5 L* darker.
    "dark_circles": ScoreRule("corrected_delta_l_star", -4.0, 12.0, "L* units on skin of L* 65"),
    "tone_unevenness": ScoreRule("blotch_std", 10.0, 55.0, "100 ln luminance"),
}
SEVERITY = ((20, "minimal"), (40, "mild"), (60, "moderate"), (80, "marked"), (101, "severe"))
# Ageing signs: how much each concern's score weighs in the index (weights sum to 1). The index
# is a summary of the photo's ageing-related scores, not an age: estimating an age from a photo
# needs a model trained on labelled faces, which this analyzer does not have.
AGEING_SIGN_WEIGHTS = {"wrinkles": 0.4, "spots": 0.25, "texture": 0.15, "tone_unevenness": 0.2}


def severity(score: float) -> str:
    return next(word for bound, word in SEVERITY if score < bound)


def score(rule: ScoreRule, value: float) -> float:
    fraction = (value - rule.none) / (rule.full - rule.none)
    return round(100 * min(1.0, max(0.0, fraction)), 1)


def region_scores(rule: ScoreRule, regions: dict[str, float]) -> dict[str, float]:
    """Per-region values scored on the same scale where the measurement is a level (a*, L*
    spread); counts and shares per region stay as measured."""
    return {name: score(rule, value) for name, value in regions.items()}


def ageing_signs(real_age: int | None, scores: dict[str, float]) -> dict[str, Any]:
    """The weighted mean of the ageing-related scores (0-100), with the age the user declared
    passed through unchanged. Deliberately no years: nothing here estimates an age."""
    index = sum(weight * scores[name] for name, weight in AGEING_SIGN_WEIGHTS.items())
    return {
        "index": round(index, 1),
        "severity": severity(index),
        "weights": AGEING_SIGN_WEIGHTS,
        "declared_age": real_age,
        "is_age_estimate": False,
    }
