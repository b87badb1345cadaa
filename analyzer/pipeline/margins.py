"""The margin of every score: how far another photo of the same face, taken now, may land.

A score is a measurement of one photo, and a second photo of an unchanged face reads
differently: the light, the compression, the resolution of the face and how much of it is
skin all move the figures. Each concern's margin is its base (how far re-takes of a good photo
move it) times one widening factor that grows with the photo's own condition:

    margin = max(floor, base[concern] * (1 + sum(weight[f] * condition[f])))

Each condition figure is 0 for a good photo and about 1 for one clearly worse in that respect.
The bases and weights are fitted by `python -m calibration.fit_margins` on the edits and
re-captures of the tuning half of the calibration set (the smallest bands that still hold 90 %
of the moves seen there) and stored in margin_model.json; `make validate` checks them on the
other half."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from analyzer.pipeline.canonical import CANONICAL_IPD

# What each condition figure counts as "clearly worse" (the figure reaches 1 there).
NOISY_SIGMA = 3.0  # noise_sigma, 8-bit levels: grain a small sensor shows in room light
BLOCKY_EXCESS = 0.5  # jpeg_blockiness above 1 (no visible grid): a q75 re-save of a phone JPEG
DIM_LIGHTNESS, BRIGHT_LIGHTNESS, LIGHTNESS_STEP = 45.0, 80.0, 20.0  # face L*, median
TURNED_DEGREES = 20.0  # |yaw| + |pitch|
CLIPPED_SHARE = 0.02  # share of the face blown out to white
# Share of the skin with one channel at the top of the scale (a warm face in strong light clips
# red first): colour ratios are read on the rest, a subset that an exposure change reshuffles.
COLOUR_CLIPPED_SHARE = 0.25
# The skin tone's band (ITA degrees) is fitted and stored beside the concerns' bases, under this
# name, and widens with the same condition figures.
ITA_MARGIN = "skin_tone_ita"


@dataclass(frozen=True)
class MarginModel:
    floor: float
    base: dict[str, float]
    weights: dict[str, float]

    def widening(self, condition: dict[str, float]) -> float:
        return 1.0 + sum(self.weights.get(name, 0.0) * value for name, value in condition.items())

    def margin(self, concern: str, condition: dict[str, float]) -> float:
        return max(self.floor, self.base[concern] * self.widening(condition))


@cache
def fitted_model() -> MarginModel:
    text = resources.files("analyzer.pipeline").joinpath("margin_model.json").read_text()
    data = json.loads(text)
    return MarginModel(floor=data["floor"], base=data["base"], weights=data["weights"])


def condition(
    quality: dict[str, Any],
    ipd_px: float,
    skin_fractions: dict[str, float],
    neutral_light: bool,
    colour_readable: float,
) -> dict[str, float]:
    """The photo's condition figures, each 0 when good (see the module's docstring).
    `colour_readable` is the share of the skin with no channel clipped."""
    lightness = float(quality["face_lightness"])
    skin = list(skin_fractions.values())
    return {
        # Each halving of the eyes' distance below the canonical face's loses a finer scale.
        "resolution": max(0.0, math.log2(CANONICAL_IPD / max(ipd_px, 1.0))),
        "noise": float(quality["noise_sigma"]) / NOISY_SIGMA,
        "compression": max(0.0, float(quality.get("jpeg_blockiness") or 1.0) - 1.0) / BLOCKY_EXCESS,
        "light": max(0.0, DIM_LIGHTNESS - lightness, lightness - BRIGHT_LIGHTNESS) / LIGHTNESS_STEP
        + float(quality["clipped_fraction"]) / CLIPPED_SHARE,
        "light_colour": 0.0 if neutral_light else 1.0,
        "colour_clipped": max(0.0, 1.0 - colour_readable) / COLOUR_CLIPPED_SHARE,
        "pose": (abs(float(quality["yaw_degrees"])) + abs(float(quality["pitch_degrees"])))
        / TURNED_DEGREES,
        # Hair, glasses or a beard over a region leave fewer pixels to measure.
        "covered": 1.0 - (sum(skin) / len(skin) if skin else 0.0),
    }


def margins(
    scores: dict[str, float], condition_figures: dict[str, float], model: MarginModel | None = None
) -> dict[str, dict[str, Any]]:
    """Each concern's margin and its interval on the 0-100 scale."""
    model = model or fitted_model()
    out: dict[str, dict[str, Any]] = {}
    for concern, value in scores.items():
        margin = round(model.margin(concern, condition_figures), 1)
        out[concern] = {
            "margin": margin,
            "interval": [round(max(0.0, value - margin), 1), round(min(100.0, value + margin), 1)],
        }
    return out
