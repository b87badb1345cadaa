"""The moves a score's margin must hold: for each photo, the other readings of the same
unchanged face (its camera edits, and the person's other real photos), and how far each landed
from this photo's score. Shared by the fit (calibration.fit_margins) and the check in
`make validate`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from analyzer.pipeline.margins import ITA_MARGIN
from calibration import edits
from calibration.sources import Source, photo_rgb
from skin.intake import CONCERNS

# What a margin is stated for: every concern's score, and the skin tone's angle (degrees).
QUANTITIES = (*CONCERNS, ITA_MARGIN)

Result = dict[str, Any]

# Re-takes of an unchanged face: the stability goal's camera edits (light level and colour,
# compression), grain and a smaller face; a dim room and a messaging app's re-compression too,
# so the margins also widen over the range of photos the analyzer accepts, not only over mild
# re-takes.
MARGIN_EDITS: dict[str, Callable[[np.ndarray], bytes]] = {
    **edits.CAMERA_EDITS,
    "bright x0.6": lambda rgb: edits.encode(edits.gain(rgb, 0.6, 0.6, 0.6), "PNG"),
    "jpeg q40": lambda rgb: edits.encode(rgb, quality=40),
    "noise 3, q92": lambda rgb: edits.encode(edits.add_noise(rgb, 3.0), quality=92),
    "half size, q92": lambda rgb: edits.encode(edits.rescale(rgb, 0.5), quality=92),
}


@dataclass(frozen=True)
class Observation:
    """Another reading of the face in `photo`, `move` from its reading of `concern` (a
    concern's score points, or the skin tone's degrees: see QUANTITIES)."""

    concern: str
    move: float
    photo: Result
    kind: Literal["edit", "re-capture"]
    source: str
    half: str


@dataclass
class Measured:
    source: Source
    base: Result | None  # None: the unedited photo was refused
    edited: dict[str, Result]  # accepted edits only


def measure(
    selected: Iterable[Source], analyze: Callable[[bytes], Result | None]
) -> list[Measured]:
    """Each photo and its margin edits; `analyze` returns None for a refused photo."""
    measured = []
    for source in selected:
        rgb = photo_rgb(source)
        base = analyze(edits.encode(rgb, "PNG"))
        edited: dict[str, Result] = {}
        if base is not None:
            for name, make in MARGIN_EDITS.items():
                result = analyze(make(rgb))
                if result is not None:
                    edited[name] = result
        measured.append(Measured(source, base, edited))
    return measured


def observations(measured: list[Measured]) -> list[Observation]:
    """Both directions of every (photo, edit) pair, and of every pair of a person's photos."""
    found: list[Observation] = []

    def add(a: Result, b: Result, kind: Literal["edit", "re-capture"], source: Source) -> None:
        for quantity in QUANTITIES:
            move = abs(reading(a, quantity) - reading(b, quantity))
            for photo in (a, b):
                found.append(Observation(quantity, move, photo, kind, source.name, source.half))

    for item in measured:
        if item.base is not None:
            for result in item.edited.values():
                add(item.base, result, "edit", item.source)
    people: dict[str, list[Measured]] = {}
    for item in measured:
        if item.source.person and item.base is not None:
            people.setdefault(item.source.person, []).append(item)
    for photos in people.values():
        for i, first in enumerate(photos):
            for second in photos[i + 1 :]:
                assert first.base is not None and second.base is not None
                add(first.base, second.base, "re-capture", first.source)
    return found


def reading(result: Result, quantity: str) -> float:
    """A concern's score, or the skin tone's angle."""
    if quantity == ITA_MARGIN:
        return float(result["skin_tone"]["ita_degrees"])
    return float(result["concerns"][quantity]["score"])


def stated_margin(result: Result, quantity: str) -> float:
    if quantity == ITA_MARGIN:
        return float(result["skin_tone"]["margin"])
    return float(result["concerns"][quantity]["margin"])


def condition_of(result: Result) -> dict[str, float]:
    return {name: float(value) for name, value in result["uncertainty"]["condition"].items()}


def covered(observation: Observation) -> bool:
    """Whether the other reading landed inside this photo's stated band."""
    return observation.move <= stated_margin(observation.photo, observation.concern)
