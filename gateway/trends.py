"""Progress over time: how each concern changed between two analyses of one user, and its trend
over the last few, with the caveats the quality figures give when two photos are not
comparable. Pure functions over stored results; the routes in gateway/routes/progress.py feed
them.

Scores are 0-100 with higher meaning more of the concern, so a falling score is "better".
Every score carries a margin (analyzer/pipeline/margins.py): another photo of the unchanged face
lands within it 9 times in 10, and it is wider for a small, grainy, compressed or badly lit
photo. A change is seen only when the two photos' bands do not overlap, that is when it exceeds
the pair's own minimum detectable change (the sum of the two margins); otherwise it is "steady":
no change you can see from these photos."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from itertools import combinations
from typing import Any, Literal

from pydantic import BaseModel, Field

from skin.intake import CONCERNS

# A result stored before margins existed (schema < 2.3) is given half the old fixed band, so
# that a pair of them keeps the 10 points the stability goal was set at.
LEGACY_MARGIN = 5.0
NO_VISIBLE_CHANGE = "no change you can see from these photos"
Direction = Literal["better", "worse", "steady"]

# Which concerns each kind of difference between two photos moves (docs/progress.md).
FINE_DETAIL = ("spots", "acne", "pores", "texture", "wrinkles")
COLOUR = ("redness", "tone_unevenness", "spots", "dark_circles")


class Caveat(BaseModel):
    code: Literal[
        "ANALYZER_VERSION", "POSE", "FACE_SIZE", "SHARPNESS", "LIGHTING", "WHITE_BALANCE",
        "NOISE", "COMPRESSION", "HIGHLIGHTS",
    ]  # fmt: skip
    message: str
    concerns: list[str] = Field(description="The concerns this difference makes incomparable.")


class AnalysisRef(BaseModel):
    task_id: str = Field(json_schema_extra={"format": "uuid"})
    created_at: datetime
    overall_score: float


class ConcernChange(BaseModel):
    before: float
    after: float
    change: float = Field(description="after - before, in score points.")
    detectable_change: float = Field(
        description="The least change these two photos can show: the sum of their margins. "
        "A smaller change is 'steady'."
    )
    direction: Direction
    summary: str = Field(description=f"In words; '{NO_VISIBLE_CHANGE}' when the bands overlap.")
    comparable: bool = Field(description="False when a caveat names this concern.")


class Comparison(BaseModel):
    before: AnalysisRef
    after: AnalysisRef
    overall: ConcernChange
    concerns: dict[str, ConcernChange]
    comparable: bool = Field(description="True when no caveat applies.")
    caveats: list[Caveat]


class TrendPoint(BaseModel):
    task_id: str = Field(json_schema_extra={"format": "uuid"})
    created_at: datetime
    score: float
    margin: float = Field(description="This photo's margin on the score.")
    comparable: bool = Field(description="Whether this photo compares with the latest one.")


class ConcernTrend(BaseModel):
    series: list[TrendPoint] = Field(description="Oldest first.")
    latest: float
    fitted_change: float | None = Field(
        description="The change over the comparable points on a robust line (Theil-Sen); "
        "null with fewer than two comparable points."
    )
    per_30_days: float | None = Field(
        description="The same line's slope per 30 days; null when the points span under a day."
    )
    detectable_change: float | None = Field(
        description="The least fitted change the first and latest comparable photos can show "
        "(the sum of their margins); null with fewer than two."
    )
    direction: Direction


class ProgressReport(BaseModel):
    analyses: list[AnalysisRef] = Field(description="The succeeded analyses used, oldest first.")
    concerns: dict[str, ConcernTrend]
    latest_change: Comparison | None = Field(
        description="The latest analysis against the one before it; null with fewer than two."
    )


@dataclass(frozen=True)
class Snapshot:
    """What a comparison needs from one succeeded task."""

    task_id: str
    created_at: datetime
    result: dict[str, Any]

    @cached_property
    def scores(self) -> dict[str, float]:
        return {name: float(self.result["concerns"][name]["score"]) for name in CONCERNS}

    @cached_property
    def margins(self) -> dict[str, float]:
        concerns = self.result["concerns"]
        found = {name: concerns[name].get("margin", LEGACY_MARGIN) for name in CONCERNS}
        found["overall"] = self.result["overall"].get("margin", LEGACY_MARGIN)
        return {name: float(value) for name, value in found.items()}

    @property
    def quality(self) -> dict[str, Any]:
        return dict(self.result["quality"])

    def ref(self) -> AnalysisRef:
        return AnalysisRef(
            task_id=self.task_id,
            created_at=self.created_at,
            overall_score=float(self.result["overall"]["score"]),
        )


def _ratio(a: float, b: float) -> float:
    low, high = sorted((abs(a), abs(b)))
    return math.inf if low == 0 else high / low


Rule = Callable[[Snapshot, Snapshot], Caveat | None]


def _version(a: Snapshot, b: Snapshot) -> Caveat | None:
    if a.result.get("analyzer_version") == b.result.get("analyzer_version"):
        return None
    return Caveat(
        code="ANALYZER_VERSION",
        message="the photos were measured by different analyzer versions",
        concerns=list(CONCERNS),
    )


def _pose(a: Snapshot, b: Snapshot) -> Caveat | None:
    turn = max(abs(a.quality[axis] - b.quality[axis]) for axis in ("yaw_degrees", "pitch_degrees"))
    if turn <= 12:
        return None
    return Caveat(
        code="POSE",
        message=f"the head is turned {turn:.0f}° differently; regions are seen at another angle",
        concerns=list(CONCERNS),
    )


def _face_size(a: Snapshot, b: Snapshot) -> Caveat | None:
    ratio = _ratio(a.result["face"]["ipd_px"], b.result["face"]["ipd_px"])
    if ratio <= 1.6:
        return None
    return Caveat(
        code="FACE_SIZE",
        message=f"the face is {ratio:.1f}× larger in one photo; fine detail is resolved "
        "differently",
        concerns=list(FINE_DETAIL),
    )


def _sharpness(a: Snapshot, b: Snapshot) -> Caveat | None:
    ratio = _ratio(a.quality["sharpness"], b.quality["sharpness"])
    if ratio <= 2.5:
        return None
    return Caveat(
        code="SHARPNESS",
        message=f"one photo is {ratio:.1f}× sharper; blur hides texture, pores and small spots",
        concerns=list(FINE_DETAIL),
    )


def _lighting(a: Snapshot, b: Snapshot) -> Caveat | None:
    difference = abs(a.quality["face_lightness"] - b.quality["face_lightness"])
    if difference <= 10:
        return None
    return Caveat(
        code="LIGHTING",
        message=f"the face is {difference:.0f} L* brighter in one photo; take both in the same "
        "light",
        concerns=[*COLOUR, "shine"],
    )


def _white_balance(a: Snapshot, b: Snapshot) -> Caveat | None:
    references = {
        a.result["color_correction"]["reference"],
        b.result["color_correction"]["reference"],
    }
    if len(references) == 1:
        return None
    return Caveat(
        code="WHITE_BALANCE",
        message="the colour of the light was corrected from the eyes in only one photo",
        concerns=["redness", "tone_unevenness"],
    )


def _noise(a: Snapshot, b: Snapshot) -> Caveat | None:
    sigma_a, sigma_b = a.quality["noise_sigma"], b.quality["noise_sigma"]
    if abs(sigma_a - sigma_b) <= 1.5 or _ratio(sigma_a, sigma_b) <= 2:
        return None
    return Caveat(
        code="NOISE",
        message="one photo is much grainier (low light or a small sensor)",
        concerns=["spots", "acne", "pores", "texture"],
    )


def _compression(a: Snapshot, b: Snapshot) -> Caveat | None:
    # null: no JPEG grid visible, as good as none.
    block_a = a.quality.get("jpeg_blockiness") or 1.0
    block_b = b.quality.get("jpeg_blockiness") or 1.0
    if abs(block_a - block_b) <= 0.3:
        return None
    return Caveat(
        code="COMPRESSION",
        message="one photo is much more compressed; JPEG blocks look like texture and blemishes",
        concerns=["spots", "acne", "pores", "texture"],
    )


def _highlights(a: Snapshot, b: Snapshot) -> Caveat | None:
    if max(a.quality["clipped_fraction"], b.quality["clipped_fraction"]) <= 0.02:
        return None
    return Caveat(
        code="HIGHLIGHTS",
        message="part of the face is blown out to white in one photo",
        concerns=["shine", "redness", "tone_unevenness"],
    )


RULES: tuple[Rule, ...] = (
    _version, _pose, _face_size, _sharpness, _lighting, _white_balance, _noise, _compression,
    _highlights,
)  # fmt: skip


def caveats(before: Snapshot, after: Snapshot) -> list[Caveat]:
    return [caveat for rule in RULES if (caveat := rule(before, after)) is not None]


def direction(change: float | None, detectable: float | None) -> Direction:
    """ "steady" unless the change exceeds the least change the photos can show."""
    if change is None or detectable is None or abs(change) <= detectable:
        return "steady"
    return "better" if change < 0 else "worse"


def _summary(seen: Direction, change: float, detectable: float, comparable: bool) -> str:
    if not comparable:
        return "not comparable: the photos differ too much (see the caveats)"
    if seen == "steady":
        return NO_VISIBLE_CHANGE
    return f"{seen} by {abs(change):.0f} points; these photos show changes over {detectable:.0f}"


def _change(
    before: float, after: float, margins: tuple[float, float], comparable: bool
) -> ConcernChange:
    change = round(after - before, 1)
    detectable = round(sum(margins), 1)
    seen = direction(change, detectable)
    return ConcernChange(
        before=before,
        after=after,
        change=change,
        detectable_change=detectable,
        direction=seen,
        summary=_summary(seen, change, detectable, comparable),
        comparable=comparable,
    )


def compare(before: Snapshot, after: Snapshot) -> Comparison:
    found = caveats(before, after)
    blocked = {name for caveat in found for name in caveat.concerns}
    old, new = before.scores, after.scores

    def pair(name: str) -> tuple[float, float]:
        return before.margins[name], after.margins[name]

    return Comparison(
        before=before.ref(),
        after=after.ref(),
        overall=_change(
            before.ref().overall_score, after.ref().overall_score, pair("overall"), not found
        ),
        concerns={
            name: _change(old[name], new[name], pair(name), name not in blocked)
            for name in CONCERNS
        },
        comparable=not found,
        caveats=found,
    )


def theil_sen(points: Sequence[tuple[float, float]]) -> float | None:
    """The median of the pairwise slopes: one odd photo does not tilt the line."""
    slopes = [(y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in combinations(points, 2) if x2 != x1]
    return statistics.median(slopes) if slopes else None


def trend(
    snapshots: Sequence[Snapshot], concern: str, incomparable: Sequence[set[str]]
) -> ConcernTrend:
    """The concern over the snapshots (oldest first), fitted on those comparable with the
    latest for this concern; `incomparable[i]` names the concerns snapshot i cannot be
    compared with the latest on."""
    series = [
        TrendPoint(
            task_id=snapshot.task_id,
            created_at=snapshot.created_at,
            score=snapshot.scores[concern],
            margin=snapshot.margins[concern],
            comparable=concern not in blocked,
        )
        for snapshot, blocked in zip(snapshots, incomparable, strict=True)
    ]
    used = [point for point in series if point.comparable]
    days = [(point.created_at - used[0].created_at).total_seconds() / 86400 for point in used]
    slope = theil_sen(list(zip(days, (point.score for point in used), strict=True)))
    span = days[-1] - days[0] if days else 0.0
    fitted = round(slope * span, 1) if slope is not None else None
    detectable = round(used[0].margin + used[-1].margin, 1) if len(used) > 1 else None
    return ConcernTrend(
        series=series,
        latest=series[-1].score,
        fitted_change=fitted,
        per_30_days=round(slope * 30, 1) if slope is not None and span >= 1 else None,
        detectable_change=detectable,
        direction=direction(fitted, detectable),
    )


def report(snapshots: Sequence[Snapshot]) -> ProgressReport:
    """Progress over the snapshots, oldest first; empty when there are none."""
    # Each photo against the latest, once: which concerns it cannot speak for.
    incomparable = [
        {name for caveat in caveats(snapshot, snapshots[-1]) for name in caveat.concerns}
        for snapshot in snapshots
    ]
    return ProgressReport(
        analyses=[snapshot.ref() for snapshot in snapshots],
        concerns={name: trend(snapshots, name, incomparable) for name in CONCERNS}
        if snapshots
        else {},
        latest_change=compare(snapshots[-2], snapshots[-1]) if len(snapshots) > 1 else None,
    )
