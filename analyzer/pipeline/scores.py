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


SCORE_RULES: dict[str, ScoreRule] = {
    "redness": ScoreRule("mean_a_star", 8.0, 22.0, "CIELAB a*"),
    "spots": ScoreRule("weighted_count", 0.0, 20.0, "clear spots"),
    "acne": ScoreRule("weighted_count", 0.0, 10.0, "clear lesions"),
    "pores": ScoreRule("per_cm2", 0.5, 12.0, "pores per cm²"),
    "texture": ScoreRule("band_pass_std", 6.0, 24.0, "100 ln luminance"),
    "wrinkles": ScoreRule("line_fraction", 0.01, 0.15, "share of pixels on a line"),
    "shine": ScoreRule("t_zone_highlight_fraction", 0.002, 0.08, "share of T-zone"),
    "dark_circles": ScoreRule("delta_l_star", 2.0, 14.0, "L* units"),
    "tone_unevenness": ScoreRule("blotch_std", 15.0, 55.0, "100 ln luminance"),
}
SEVERITY = ((20, "minimal"), (40, "mild"), (60, "moderate"), (80, "marked"), (101, "severe"))
# Skin age: years added per score point above (or removed below) a typical score of 30.
SKIN_AGE_WEIGHTS = {"wrinkles": 0.15, "spots": 0.06, "texture": 0.05, "tone_unevenness": 0.04}
SKIN_AGE_TYPICAL_SCORE = 30.0
SKIN_AGE_MAX_OFFSET = 12.0


def severity(score: float) -> str:
    return next(word for bound, word in SEVERITY if score < bound)


def score(rule: ScoreRule, value: float) -> float:
    fraction = (value - rule.none) / (rule.full - rule.none)
    return round(100 * min(1.0, max(0.0, fraction)), 1)


def region_scores(rule: ScoreRule, regions: dict[str, float]) -> dict[str, float]:
    """Per-region values scored on the same scale where the measurement is a level (a*, L*
    spread); counts and shares per region stay as measured."""
    return {name: score(rule, value) for name, value in regions.items()}


def skin_age(real_age: int | None, scores: dict[str, float]) -> dict[str, Any] | None:
    """An estimate: the real age moved by how far the ageing signs sit from typical."""
    if real_age is None:
        return None
    offset = sum(
        weight * (scores[name] - SKIN_AGE_TYPICAL_SCORE)
        for name, weight in SKIN_AGE_WEIGHTS.items()
    )
    offset = max(-SKIN_AGE_MAX_OFFSET, min(SKIN_AGE_MAX_OFFSET, offset))
    return {
        "estimate": round(real_age + offset),
        "real_age": real_age,
        "offset_years": round(offset, 1),
        "is_estimate": True,
    }
