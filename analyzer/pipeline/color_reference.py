"""Colour normalised from the face itself: the whites of the eyes as the photo's white reference.

The sclera is close to neutral and lit like the face, so its linear RGB is an estimate of the
illuminant (colour and level) inside every frontal photo (Bianco and Schettini 2014 use the face
as an illuminant estimator; docs/metrics.md). Dividing linear RGB by it (a von Kries correction)
undoes the camera's white balance and exposure before CIELAB is computed, so a* and the skin-tone
angle follow the skin, not the camera. Where too little sclera shows (closed or squinting eyes,
glasses' glare, a small face), no correction is made and the result says so: the measures that
must not depend on it (redness, acne) are relative to the face's own skin and do not need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from analyzer.pipeline import face_model as fm
from analyzer.pipeline.face_model import FaceModel

# At least this many sclera pixels (canonical scale, both eyes) to trust the reference.
MIN_SCLERA_PIXELS = 40
# A sclera reference more coloured than this (max/min channel of its linear RGB) is not a
# white: eyelid skin or a reflection was taken for it, and no correction is made.
MAX_SCLERA_CAST = 1.6
IRIS_RINGS = {fm.LEFT_IRIS: range(474, 478), fm.RIGHT_IRIS: range(469, 473)}
LUMINANCE = np.array([0.2126, 0.7152, 0.0722], np.float32)


@dataclass(frozen=True)
class ColourReference:
    gains: np.ndarray  # linear RGB multipliers applied before CIELAB (luminance kept)
    kind: str  # "sclera" or "none"
    sclera_pixels: int
    sclera_rgb: np.ndarray | None  # the reference's linear RGB before correction

    def figures(self) -> dict[str, Any]:
        return {
            "reference": self.kind,
            "sclera_pixels": self.sclera_pixels,
            "gains": [round(float(g), 3) for g in self.gains],
            "sclera_luminance": None
            if self.sclera_luminance is None
            else round(self.sclera_luminance, 4),
        }

    @property
    def sclera_luminance(self) -> float | None:
        """The sclera's linear luminance before correction (None when none was found)."""
        return None if self.sclera_rgb is None else float(self.sclera_rgb @ LUMINANCE)


def sclera_mask(shape: tuple[int, ...], landmarks: np.ndarray) -> np.ndarray:
    """The eye openings (eyelid contours, shrunk away from lashes) without the irises."""
    mask = np.zeros(shape[:2], np.uint8)
    points = landmarks[:, :2]
    for eye, iris in (("LEFT_EYE", fm.LEFT_IRIS), ("RIGHT_EYE", fm.RIGHT_IRIS)):
        outline = points[FaceModel.contour(eye)]
        centre = outline.mean(axis=0)
        shrunk = centre + 0.85 * (outline - centre)
        cv2.fillPoly(mask, [cv2.convexHull(np.round(shrunk).astype(np.int32))], (1,))
        radius = float(np.linalg.norm(points[list(IRIS_RINGS[iris])] - points[iris], axis=1).mean())
        centre_xy = (int(round(points[iris][0])), int(round(points[iris][1])))
        cv2.circle(mask, centre_xy, round(1.2 * radius), (0,), -1)
    return mask.astype(bool)


def estimate_reference(linear: np.ndarray, landmarks: np.ndarray) -> ColourReference:
    """The sclera's linear RGB: of the eye-opening pixels, the brighter half of the less
    coloured half (lashes, lids and shadow are darker or more coloured than the white)."""
    pixels = linear[sclera_mask(linear.shape, landmarks)]
    none = ColourReference(np.ones(3, np.float32), "none", 0, None)
    if len(pixels) < 2 * MIN_SCLERA_PIXELS:
        return none
    brightest = pixels.max(axis=1)
    saturation = 1 - pixels.min(axis=1) / np.maximum(brightest, 1e-6)
    pale = pixels[(saturation <= np.median(saturation)) & (brightest < 0.98)]
    if len(pale) < MIN_SCLERA_PIXELS:
        return none
    luminance = pale @ LUMINANCE
    white = pale[luminance >= np.median(luminance)]
    reference = np.median(white, axis=0)
    if reference.min() <= 1e-4 or reference.max() / reference.min() > MAX_SCLERA_CAST:
        return ColourReference(np.ones(3, np.float32), "none", len(white), reference)
    # Von Kries: each channel scaled so the sclera comes out grey at its own luminance.
    gains = float(reference @ LUMINANCE) / reference.astype(np.float32)
    return ColourReference(gains, "sclera", len(white), reference)
