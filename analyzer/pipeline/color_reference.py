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
# The white must be less red than the skin beside it by at least this much, in ln(R/B) of linear
# light. The light's colour adds the same to both (a von Kries illuminant is a per-channel gain,
# an offset in log space), so this test holds under warm or cool light alike, where a limit on
# the white's own cast refused every warm room. Eyelid skin, lashes or a frame taken for the
# white come out about as red as the skin (a difference near 0, or below it).
MIN_SKIN_OVER_WHITE = 0.1
# Past this cast (max/min channel of the white's linear RGB) the light is too coloured for three
# gains to undo it (one channel near its floor, sodium or LED light): no correction is made.
MAX_SCLERA_CAST = 6.0
# The dim-light refusal (quality.check_lighting_against_sclera) was set on whites in near-neutral
# light and reads only those: under a strongly coloured light the white's luminance falls with
# the light's colour, and a warm room's copy darker by 15 % was refused though it still measured
# within 10 points of the photo.
NEUTRAL_WHITE_CAST = 1.6
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
    def neutral(self) -> bool:
        """A white was found and the light is close to neutral."""
        return (
            self.kind == "sclera"
            and self.sclera_rgb is not None
            and float(self.sclera_rgb.max() / self.sclera_rgb.min()) <= NEUTRAL_WHITE_CAST
        )

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


def estimate_reference(
    linear: np.ndarray, landmarks: np.ndarray, skin_rgb: np.ndarray
) -> ColourReference:
    """The sclera's linear RGB: of the eye-opening pixels, the brighter half of the less
    coloured half (lashes, lids and shadow are darker or more coloured than the white).
    `skin_rgb` is the face skin's median linear RGB, lit by the same light."""
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
    if not is_white_beside(reference, skin_rgb):
        return ColourReference(np.ones(3, np.float32), "none", len(white), reference)
    # Von Kries: each channel scaled so the sclera comes out grey at its own luminance.
    gains = float(reference @ LUMINANCE) / reference.astype(np.float32)
    return ColourReference(gains, "sclera", len(white), reference)


def is_white_beside(reference: np.ndarray, skin_rgb: np.ndarray) -> bool:
    """Whether `reference` can be the white of the eyes next to skin of colour `skin_rgb`."""
    if min(reference.min(), skin_rgb.min()) <= 1e-4:
        return False
    if reference.max() / reference.min() > MAX_SCLERA_CAST:
        return False
    skin_over_white = np.log(skin_rgb[0] / skin_rgb[2]) - np.log(reference[0] / reference[2])
    return bool(skin_over_white >= MIN_SKIN_OVER_WHITE)
