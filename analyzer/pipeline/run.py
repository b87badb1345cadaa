"""Runs the whole pipeline on one photo, reporting each finished stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from analyzer.pipeline import metrics_color, metrics_structure
from analyzer.pipeline.canonical import CANONICAL_IPD, canonical_face
from analyzer.pipeline.decode import decode_photo
from analyzer.pipeline.face_model import FaceModel
from analyzer.pipeline.margins import ITA_MARGIN, condition, fitted_model, margins
from analyzer.pipeline.measure_context import build_context
from analyzer.pipeline.quality import check_lighting_against_sclera, check_quality
from analyzer.pipeline.rejection import Failure, reject
from analyzer.pipeline.scores import SCORE_RULES, ageing_signs, region_scores, score, severity

SCHEMA_VERSION = "2.5"
ANALYZER_VERSION = "0.2.0"
# Stage names as the stream reports them, with the share of the work done when each ends.
STAGES = (("decode", 0.10), ("quality", 0.30), ("landmarks", 0.45), ("regions", 0.55),
          ("metrics", 0.95), ("scores", 1.0))  # fmt: skip
MESSAGES = {
    "decode": "photo decoded",
    "quality": "photo quality checked",
    "landmarks": "face landmarks found",
    "regions": "skin regions mapped",
    "metrics": "skin measured",
    "scores": "scores ready",
}

# Concerns scored per region too, and which per-region figure is on the concern's scale.
REGION_SCORED = {"redness": "excess_regions", "texture": "regions", "tone_unevenness": "regions"}
Progress = Callable[[str, float, str], None]


class Cancelled(Exception):
    """The caller went away; the analysis stopped between stages."""


def analyze(
    image: bytes,
    real_age: int | None,
    model: FaceModel,
    progress: Progress,
    cancelled: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    timings: dict[str, float] = {}
    fractions = dict(STAGES)
    started = time.perf_counter()

    def done(stage: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[stage] = round(1000 * (now - started), 1)
        started = now
        progress(stage, fractions[stage], MESSAGES[stage])
        if cancelled():
            raise Cancelled

    photo = decode_photo(image)
    done("decode")
    faces, landmarks = model.find_faces(photo.rgb)
    report = check_quality(
        photo.rgb, faces, photo.scale, landmarks, block_period=photo.block_period
    )
    done("quality")
    if landmarks is None:  # found by the full-range detector only: try the mesh once more
        meshes = model.landmark_sets(photo.rgb)
        landmarks = meshes[0] if len(meshes) == 1 else None
    if landmarks is None:
        raise reject(
            Failure(
                "NO_FACE",
                "the face's features could not be located",
                "take the photo facing the camera in even light",
            )
        )
    age = model.age.estimate(photo.rgb, landmarks)
    done("landmarks")
    # Everything after this works on the face alone, upright, at one canonical scale.
    face = canonical_face(photo.rgb, landmarks, photo.scale)
    ctx = build_context(face)
    trusted = ctx.reference.neutral
    check_lighting_against_sclera(
        report.figures["face_lightness"], ctx.reference.sclera_luminance if trusted else None
    )
    done("regions")
    spots, acne = metrics_structure.spots_and_acne(ctx)
    measurements = {
        "redness": metrics_color.redness(ctx),
        "spots": spots,
        "acne": acne,
        "pores": metrics_structure.pores(ctx),
        "texture": metrics_structure.texture(ctx),
        "wrinkles": metrics_structure.wrinkles(ctx),
        "shine": metrics_color.shine(ctx),
        "dark_circles": metrics_color.dark_circles(ctx),
        "tone_unevenness": metrics_color.tone_evenness(ctx),
    }
    tone = metrics_color.skin_tone(ctx)
    done("metrics")
    concerns: dict[str, Any] = {}
    for name, rule in SCORE_RULES.items():
        measured = measurements[name]
        value = score(rule, float(measured[rule.measurement]))
        concerns[name] = {
            "score": value,
            "severity": severity(value),
            "measurement": {"value": measured[rule.measurement], "unit": rule.unit},
            "details": measured,
        }
        if name in REGION_SCORED:
            regions = measured[REGION_SCORED[name]]
            concerns[name]["region_scores"] = region_scores(rule, regions)
    photo_condition = condition(
        report.figures,
        face.source_ipd_px,
        ctx.regions.skin_fractions,
        ctx.reference.neutral,
        colour_readable=ctx.colour_readable,
    )
    bands = margins({name: c["score"] for name, c in concerns.items()}, photo_condition)
    tone = metrics_color.with_band(tone, fitted_model().margin(ITA_MARGIN, photo_condition))
    for name, band in bands.items():
        concerns[name].update(band)
    overall = round(float(np.mean([c["score"] for c in concerns.values()])), 1)
    # The mean of the margins: the concerns' errors share their causes (light, compression),
    # so averaging them does not cancel them.
    overall_margin = round(float(np.mean([b["margin"] for b in bands.values()])), 1)
    done("scores")
    return {
        "schema_version": SCHEMA_VERSION,
        "analyzer_version": ANALYZER_VERSION,
        "image": {
            "format": photo.format,
            "width": photo.original_width,
            "height": photo.original_height,
            "analyzed_width": int(photo.rgb.shape[1]),
            "analyzed_height": int(photo.rgb.shape[0]),
        },
        "quality": report.figures,
        "face": {
            "box": [round(v * photo.scale, 1) for v in report.face.box],
            "ipd_px": round(face.source_ipd_px, 1),
            "canonical_ipd_px": CANONICAL_IPD,
            "mm_per_canonical_px": round(face.mm_per_pixel, 3),
        },
        "color_correction": ctx.reference.figures(),
        "regions": {
            name: {
                "polygon": [ctx.to_original(float(x), float(y)) for x, y in polygon],
                "skin_fraction": ctx.regions.skin_fractions[name],
            }
            for name, polygon in ctx.regions.polygons.items()
        },
        "concerns": concerns,
        "skin_tone": tone,
        "overall": {"score": overall, "severity": severity(overall), "margin": overall_margin},
        "uncertainty": {
            "condition": {name: round(value, 3) for name, value in photo_condition.items()},
            "widening": round(fitted_model().widening(photo_condition), 3),
        },
        "age_estimate": age.figures(),
        "ageing_signs": ageing_signs(real_age, {name: c["score"] for name, c in concerns.items()}),
        "timings_ms": timings,
        "disclaimer": "Cosmetic measurements of a photo, not a medical diagnosis.",
    }
