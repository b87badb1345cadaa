"""What every metric reads: the working image in CIELAB, the regions, and the scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from analyzer.pipeline.regions import FaceRegions

# Average adult inter-pupillary distance (mm), to state sizes in millimetres (Dodgson 2004).
MEAN_IPD_MM = 63.0


@dataclass(frozen=True)
class MeasureContext:
    lab: np.ndarray  # float32, L* in 0..100, a* and b* in CIELAB units, of the face crop
    regions: FaceRegions
    scale: float  # original pixels per working pixel
    offset: tuple[int, int] = (0, 0)  # the crop's top-left corner in the working image

    @property
    def ipd(self) -> float:
        return self.regions.frame.ipd

    @property
    def mm_per_pixel(self) -> float:
        return MEAN_IPD_MM / self.ipd

    def to_original(self, x: float, y: float) -> list[float]:
        """Crop pixel coordinates to the uploaded photo's (after EXIF orientation)."""
        return [
            round((x + self.offset[0]) * self.scale, 1),
            round((y + self.offset[1]) * self.scale, 1),
        ]

    def region_of(self, x: float, y: float) -> str | None:
        xi, yi = int(round(x)), int(round(y))
        for name, mask in self.regions.masks.items():
            if 0 <= yi < mask.shape[0] and 0 <= xi < mask.shape[1] and mask[yi, xi]:
                return name
        return None


def to_lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def masked_blur(channel: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur that only averages masked pixels (normalised convolution), so eyes, hair
    and background do not bleed into the skin's local background."""
    weight = mask.astype(np.float32)
    numerator = cv2.GaussianBlur(channel * weight, (0, 0), sigma)
    denominator = cv2.GaussianBlur(weight, (0, 0), sigma)
    return numerator / np.maximum(denominator, 1e-6)


def per_region(values: np.ndarray, ctx: MeasureContext, reduce: Any = np.mean) -> dict[str, float]:
    return {
        name: round(float(reduce(values[mask])), 2)
        for name, mask in ctx.regions.masks.items()
        if mask.any()
    }
