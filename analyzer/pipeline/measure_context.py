"""What every metric reads: the canonical face, colour-corrected CIELAB, contrast channels in
linear light, and the regions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from analyzer.pipeline.canonical import CanonicalFace
from analyzer.pipeline.color_reference import ColourReference, estimate_reference
from analyzer.pipeline.regions import FaceRegions, build_regions

# Average adult inter-pupillary distance (mm), to state sizes in millimetres (Dodgson 2004).
MEAN_IPD_MM = 63.0
# An 8-bit channel at or above this is taken as clipped.
CLIPPED_LEVEL = 250


@dataclass(frozen=True)
class MeasureContext:
    """The canonical face (upright, IPD = CANONICAL_IPD px) in the channels the metrics read."""

    face: CanonicalFace
    reference: ColourReference
    # CIELAB (D65, L* 0..100) of the photo as taken, for colour differences within the face
    # (region a*, under-eye against cheek, highlights), which a global colour cast barely moves;
    # and of the photo corrected to the sclera's white, for absolute colour (skin tone).
    lab: np.ndarray
    corrected_lab: np.ndarray
    # Contrast channels in linear light, where a change of exposure or of one channel's gain
    # only adds a constant: 100 ln(luminance) for darkness, and the erythema index
    # 100 ln(R/G) (Yamamoto et al. 2008: optical densities' difference) for redness.
    log_luminance: np.ndarray
    erythema: np.ndarray
    regions: FaceRegions
    # Skin whose colour can be read: no channel at the top of the scale (a clipped channel's
    # ratio to the others is the camera's limit, not the skin's colour).
    colour_skin: np.ndarray

    @property
    def ipd(self) -> float:
        return self.face.ipd

    @property
    def colour_readable(self) -> float:
        """The share of the skin whose colour can be read (no channel clipped)."""
        return float(np.count_nonzero(self.colour_skin)) / max(
            1, int(np.count_nonzero(self.regions.skin))
        )

    @property
    def mm_per_pixel(self) -> float:
        return MEAN_IPD_MM / self.face.ipd

    def to_original(self, x: float, y: float) -> list[float]:
        return self.face.to_original(x, y)

    def region_of(self, x: float, y: float) -> str | None:
        xi, yi = int(round(x)), int(round(y))
        for name, mask in self.regions.masks.items():
            if 0 <= yi < mask.shape[0] and 0 <= xi < mask.shape[1] and mask[yi, xi]:
                return name
        return None


def build_context(face: CanonicalFace) -> MeasureContext:
    linear = linear_rgb(face.rgb)
    lab = cv2.cvtColor(linear, cv2.COLOR_LRGB2Lab)
    regions = build_regions(face.rgb, lab, face.landmarks, face.inside)
    skin_rgb = np.median(linear[regions.skin], axis=0)
    reference = estimate_reference(linear, face.landmarks, skin_rgb)
    corrected = np.minimum(linear * reference.gains, 1.0)  # gains are positive
    corrected_lab = cv2.cvtColor(corrected, cv2.COLOR_LRGB2Lab)
    log_luminance, erythema = contrast_channels(linear)
    red, green, blue = cv2.split(face.rgb)
    colour_skin = regions.skin & (cv2.max(cv2.max(red, green), blue) < CLIPPED_LEVEL)
    return MeasureContext(
        face, reference, lab, corrected_lab, log_luminance, erythema, regions, colour_skin
    )


def _srgb_to_linear_table() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LINEAR = _srgb_to_linear_table()
_FLOOR = 1e-3  # keeps the logarithm finite in black pixels


def linear_rgb(rgb: np.ndarray) -> np.ndarray:
    """8-bit sRGB to linear light (IEC 61966-2-1 decoding)."""
    return _LINEAR[rgb]


def contrast_channels(linear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(100 ln Y, 100 ln(R/G)) of linear RGB (Rec. 709 luminance)."""
    luminance = linear @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    log_luminance = 100 * np.log(luminance + _FLOOR)
    log_red_green = 100 * np.log((linear[..., 0] + _FLOOR) / (linear[..., 1] + _FLOOR))
    return log_luminance.astype(np.float32), log_red_green.astype(np.float32)


def smooth(image: np.ndarray, sigma: float, sigmas_per_step: float = 3.0) -> np.ndarray:
    """Gaussian blur; wide ones run on a copy shrunk by an integer factor (area averaging), with
    the remaining blur applied there, then scaled back: the same result within a fraction of a
    percent, many times faster than a 100-tap kernel. The copy is shrunk one step per
    `sigmas_per_step` pixels of sigma: fewer steps where fine detail of the blur matters."""
    factor = int(sigma // sigmas_per_step)
    if factor < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    height, width = image.shape[:2]
    small = cv2.resize(
        image, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA
    )
    # Area averaging over `factor` pixels is itself a blur of variance ~ factor^2 / 12.
    remaining = np.sqrt(max(sigma**2 - factor**2 / 12, 0.25)) / factor
    small = cv2.GaussianBlur(small, (0, 0), remaining)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def masked_blur(channel: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur that only averages masked pixels (normalised convolution), so eyes, hair
    and background do not bleed into the skin's local background."""
    weight = mask.astype(np.float32)
    numerator = smooth(channel * weight, sigma)
    denominator = smooth(weight, sigma)
    return numerator / np.maximum(denominator, 1e-6)


def per_region(
    values: np.ndarray,
    ctx: MeasureContext,
    reduce: Any = np.mean,
    within: np.ndarray | None = None,
) -> dict[str, float]:
    """`reduce` of `values` over each region (limited to `within` where given). Regions are
    read through their pixels' flat indices, found once, rather than through full-size masks."""
    flat = values.reshape(-1)
    keep = None if within is None else within.reshape(-1)
    result = {}
    for name, indices in ctx.regions.indices.items():
        if keep is not None:
            indices = indices[keep[indices]]
        if len(indices):
            result[name] = round(float(reduce(flat[indices])), 2)
    return result
