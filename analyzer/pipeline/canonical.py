"""One canonical scale: the face is turned upright and resampled so the eye centres lie a fixed
distance apart, before anything is measured.

Every size then means the same on every photo (CANONICAL_IPD px ~ 63 mm), so counts, areas and
band-pass filters do not depend on how large the photo or the face in it was. Shrinking first
averages pixels by area (the right anti-alias filter), then the rotation is done at that scale;
enlarging a small face adds no detail, which the noise-aware detectors account for.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from analyzer.pipeline import face_model as fm

# The canonical inter-pupillary distance in pixels: ~0.49 mm per pixel for a 63 mm IPD.
CANONICAL_IPD = 128.0
# The canonical crop in IPD units around the eyes' midpoint: u across (subject's left is +),
# v down the face. Wide enough for the regions (docs/metrics.md) and the blur margins.
U_RANGE = (-1.2, 1.2)
V_RANGE = (-1.15, 1.8)


@dataclass(frozen=True)
class CanonicalFace:
    rgb: np.ndarray  # uint8, upright, IPD = CANONICAL_IPD
    landmarks: np.ndarray  # (N, 3) in canonical pixels (z scaled alike)
    inside: np.ndarray  # bool: pixels that came from the photo (not the border fill)
    to_working: np.ndarray  # 2x3 affine: canonical px -> working px
    working_scale: float  # original photo px per working px
    source_ipd_px: float  # the IPD in the uploaded photo's pixels

    @property
    def ipd(self) -> float:
        return CANONICAL_IPD

    @property
    def mm_per_pixel(self) -> float:
        return 63.0 / CANONICAL_IPD

    def to_original(self, x: float, y: float) -> list[float]:
        """Canonical pixel coordinates to the uploaded photo's (after EXIF orientation)."""
        wx, wy = self.to_working @ np.array([x, y, 1.0])
        return [round(float(wx) * self.working_scale, 1), round(float(wy) * self.working_scale, 1)]


def canonical_size() -> tuple[int, int]:
    width = round((U_RANGE[1] - U_RANGE[0]) * CANONICAL_IPD)
    height = round((V_RANGE[1] - V_RANGE[0]) * CANONICAL_IPD)
    return width, height


def canonical_face(rgb: np.ndarray, landmarks: np.ndarray, working_scale: float) -> CanonicalFace:
    right_eye, left_eye = landmarks[fm.RIGHT_IRIS, :2], landmarks[fm.LEFT_IRIS, :2]
    ipd = float(np.linalg.norm(left_eye - right_eye))
    angle = float(np.arctan2(*(left_eye - right_eye)[::-1]))
    scale = CANONICAL_IPD / max(ipd, 1e-6)
    source = rgb
    pre = 1.0
    if scale < 1.0:
        # Shrink the region around the face by area averaging first; the affine below then only
        # rotates and shifts, so no detail finer than the canonical grid aliases into it.
        x0, y0, x1, y1 = _bounds(landmarks, ipd, rgb.shape)
        region = rgb[y0:y1, x0:x1]
        size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        source = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        pre = size[0] / (x1 - x0)
        offset = np.array([x0, y0], np.float64)
    else:
        offset = np.zeros(2)
    # canonical = R(-angle) * s_rest * (p_source - mid_source) + centre
    mid = ((right_eye + left_eye) / 2 - offset) * pre
    rest = scale / pre
    cos, sin = np.cos(-angle) * rest, np.sin(-angle) * rest
    centre = np.array([-U_RANGE[0], -V_RANGE[0]]) * CANONICAL_IPD
    forward = np.array([[cos, -sin, 0.0], [sin, cos, 0.0]])
    forward[:, 2] = centre - forward[:, :2] @ mid
    width, height = canonical_size()
    interpolation = cv2.INTER_CUBIC if rest > 1.0 else cv2.INTER_LINEAR
    out = cv2.warpAffine(source, forward, (width, height), flags=interpolation,
                         borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    ones = np.ones(source.shape[:2], np.uint8)
    inside = cv2.warpAffine(ones, forward, (width, height), flags=cv2.INTER_NEAREST,
                            borderValue=(0,)).astype(bool)  # fmt: skip
    # Working -> canonical for the landmarks: through the pre-shrink, then the affine.
    xy = (landmarks[:, :2] - offset) * pre
    points = np.column_stack([xy @ forward[:, :2].T + forward[:, 2], landmarks[:, 2] * scale])
    # Canonical -> working: invert both steps.
    inverse = cv2.invertAffineTransform(forward)
    to_working = np.vstack([inverse[0] / pre, inverse[1] / pre])
    to_working[:, 2] += offset
    return CanonicalFace(
        rgb=out,
        landmarks=points,
        inside=inside,
        to_working=to_working,
        working_scale=working_scale,
        source_ipd_px=ipd * working_scale,
    )


def _bounds(landmarks: np.ndarray, ipd: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The landmarks' box grown by 1.6 IPD (the canonical crop's reach at any roll)."""
    points = landmarks[:, :2]
    (left, top), (right, bottom) = points.min(axis=0) - 1.6 * ipd, points.max(axis=0) + 1.6 * ipd
    height, width = shape[:2]
    return (
        max(0, int(left)),
        max(0, int(top)),
        min(width, int(right) + 1),
        min(height, int(bottom) + 1),
    )
