"""Runs the whole pipeline on one photo, reporting each finished stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from analyzer.pipeline import face_model as fm
from analyzer.pipeline import metrics_color, metrics_structure
from analyzer.pipeline.decode import decode_photo
from analyzer.pipeline.face_model import FaceModel
from analyzer.pipeline.measure_context import MeasureContext, contrast_channels, to_lab
from analyzer.pipeline.quality import check_quality
from analyzer.pipeline.regions import build_regions
from analyzer.pipeline.rejection import Failure, reject
from analyzer.pipeline.scores import SCORE_RULES, region_scores, score, severity, skin_age

SCHEMA_VERSION = "1.0"
ANALYZER_VERSION = "0.1.0"
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
    report = check_quality(photo.rgb, faces, photo.scale)
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
    done("landmarks")
    # Everything after this works on the face and its margin only, not the whole photo.
    x0, y0, x1, y1 = face_crop(landmarks, photo.rgb.shape)
    crop = np.ascontiguousarray(photo.rgb[y0:y1, x0:x1])
    crop_landmarks = landmarks - np.array([x0, y0, 0.0])
    lab = to_lab(crop)
    regions = build_regions(crop, lab, crop_landmarks)
    done("regions")
    log_luminance, log_red_green = contrast_channels(crop)
    ctx = MeasureContext(
        lab=lab,
        log_luminance=log_luminance,
        log_red_green=log_red_green,
        regions=regions,
        scale=photo.scale,
        offset=(x0, y0),
    )
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
        if name in ("redness", "texture", "tone_unevenness"):
            concerns[name]["region_scores"] = region_scores(rule, measured["regions"])
    overall = round(float(np.mean([c["score"] for c in concerns.values()])), 1)
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
            "ipd_px": round(regions.frame.ipd * photo.scale, 1),
        },
        "regions": {
            name: {
                "polygon": [ctx.to_original(float(x), float(y)) for x, y in polygon],
                "skin_fraction": round(
                    float(regions.masks[name].sum()) / max(1.0, _polygon_area(polygon)), 3
                ),
            }
            for name, polygon in regions.polygons.items()
        },
        "concerns": concerns,
        "skin_tone": tone,
        "overall": {"score": overall, "severity": severity(overall)},
        "skin_age": skin_age(real_age, {name: c["score"] for name, c in concerns.items()}),
        "timings_ms": timings,
        "disclaimer": "Cosmetic measurements of a photo, not a medical diagnosis.",
    }


def face_crop(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The landmarks' bounding box grown by half the eye distance on each side (regions reach
    up to the forehead), clipped to the image."""
    points = landmarks[:, :2]
    ipd = float(np.linalg.norm(points[fm.LEFT_IRIS] - points[fm.RIGHT_IRIS]))
    (left, top), (right, bottom) = points.min(axis=0) - 0.5 * ipd, points.max(axis=0) + 0.5 * ipd
    height, width = shape[:2]
    return (
        max(0, int(left)),
        max(0, int(top)),
        min(width, int(right) + 1),
        min(height, int(bottom) + 1),
    )


def _polygon_area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
