"""Skin regions from the landmarks, and a skin mask without eyes, brows, lips and nostrils.

Regions are laid out in the face's own frame: origin between the iris centres, x along the eye
line, unit = the inter-pupillary distance (IPD). The layout is mirror-symmetric, so a mirrored
photo swaps left and right regions. Left and right are the subject's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from analyzer.pipeline import face_model as fm

# (u0, u1, v0, v1) boxes in IPD units; u grows toward the subject's left, v down the face.
# Proportions follow the MediaPipe canonical face: eyes at u = +-0.5, outer eye corners near
# +-0.7, nose tip at v ~ 0.65, mouth corners at v ~ 0.85, chin at v ~ 1.7.
REGION_BOXES: dict[str, tuple[float, float, float, float]] = {
    "forehead": (-0.70, 0.70, -0.95, -0.45),
    "nose": (-0.16, 0.16, 0.05, 0.58),
    "chin": (-0.38, 0.38, 1.22, 1.58),
    "left_cheek": (0.30, 0.85, 0.42, 1.05),
    "right_cheek": (-0.85, -0.30, 0.42, 1.05),
    "left_under_eye": (0.24, 0.76, 0.14, 0.36),
    "right_under_eye": (-0.76, -0.24, 0.14, 0.36),
    "left_crows_feet": (0.76, 1.00, -0.18, 0.22),
    "right_crows_feet": (-1.00, -0.76, -0.18, 0.22),
    "left_nasolabial": (0.16, 0.42, 0.58, 1.00),
    "right_nasolabial": (-0.42, -0.16, 0.58, 1.00),
}
# Below the nose tip and above the lip: nostrils and their shadow.
NOSTRILS_BOX = (-0.30, 0.30, 0.60, 0.82)
# Contours cut out of the skin, each grown by this many IPD.
EXCLUDED_CONTOURS = {
    "LEFT_EYE": 0.10,
    "RIGHT_EYE": 0.10,
    "LEFT_EYEBROW": 0.07,
    "RIGHT_EYEBROW": 0.07,
    "LIPS": 0.06,
}
# The forehead may hold hair: there, pixels far in colour from the face's skin, or much darker,
# are dropped (CIELAB units). The reference is the skin between the brows (the glabella), which
# a fringe rarely covers: not the cheeks, so the mask does not move when a cheek changes colour.
HAIR_DELTA_E = 20.0
HAIR_DARKER_L = 12.0
FOREHEAD_REFERENCE_BAND = (-0.12, 0.12, -0.40, -0.08)
# Light hair close to the skin's colour (a blond fringe) is told by its strands: fine-scale
# lightness energy (L* units, band 0.6-1.9 % IPD, pooled over 3 % IPD) above this, with a colour
# a little off the skin's. Forehead wrinkles are as textured but skin-coloured, so they stay.
HAIR_STRAND_ENERGY = 2.5
HAIR_TEXTURED_DELTA_E = 8.0


@dataclass(frozen=True)
class FaceFrame:
    origin: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    ipd: float

    def to_image(self, u: float, v: float) -> np.ndarray:
        return self.origin + self.ipd * (u * self.x_axis + v * self.y_axis)

    def pixel_uv(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Every pixel's (u, v) in this frame (IPD units): to_image's inverse over an image."""
        yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
        dx, dy = xx - self.origin[0], yy - self.origin[1]
        u = (dx * self.x_axis[0] + dy * self.x_axis[1]) / self.ipd
        v = (dx * self.y_axis[0] + dy * self.y_axis[1]) / self.ipd
        return u, v


@dataclass(frozen=True)
class FaceRegions:
    frame: FaceFrame
    skin: np.ndarray  # bool mask of measurable skin
    masks: dict[str, np.ndarray]  # region name -> bool mask (within skin)
    polygons: dict[str, np.ndarray]  # region name -> (4, 2) corners in canonical pixels
    # Share of each region's box that is measurable skin, in [0, 1].
    skin_fractions: dict[str, float]
    allowed: np.ndarray  # bool: face skin before the regions cut it up (eyes, brows, lips out)

    @cached_property
    def indices(self) -> dict[str, np.ndarray]:
        """Each region's pixels as flat indices into the canonical image."""
        return {name: np.flatnonzero(mask) for name, mask in self.masks.items()}

    def box_mask(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """Skin inside a (u0, u1, v0, v1) box of the face's frame (IPD units)."""
        return _fill(self.allowed.shape, _box_polygon(self.frame, box)) & self.allowed


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    right_eye, left_eye = landmarks[fm.RIGHT_IRIS, :2], landmarks[fm.LEFT_IRIS, :2]
    ipd = float(np.linalg.norm(left_eye - right_eye))
    x_axis = (left_eye - right_eye) / max(ipd, 1e-6)
    y_axis = np.array([-x_axis[1], x_axis[0]])
    return FaceFrame((left_eye + right_eye) / 2, x_axis, y_axis, ipd)


def _box_polygon(frame: FaceFrame, box: tuple[float, float, float, float]) -> np.ndarray:
    u0, u1, v0, v1 = box
    return np.array([frame.to_image(u, v) for u, v in ((u0, v0), (u1, v0), (u1, v1), (u0, v1))])


def _fill(shape: tuple[int, ...], polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], (1,))
    return mask.astype(bool)


def _strand_energy(lightness: np.ndarray, ipd: float) -> np.ndarray:
    """Local RMS of band-passed L*: high on hair strands, low on skin."""
    fine, coarse = max(0.5, 0.006 * ipd), max(1.0, 0.019 * ipd)
    band = cv2.GaussianBlur(lightness, (0, 0), fine) - cv2.GaussianBlur(lightness, (0, 0), coarse)
    pooled = cv2.GaussianBlur(band * band, (0, 0), 0.03 * ipd)
    return np.sqrt(np.maximum(pooled, 0.0))


def fill_grown(mask: np.ndarray, hull: np.ndarray, radius: int, value: int) -> None:
    """Sets to `value` the pixels of a convex shape grown by a disc of `radius`: the shape plus
    its outline drawn 2r+1 thick (OpenCV draws thick lines with round joints), far cheaper than
    a morphological dilation."""
    cv2.fillPoly(mask, [hull], (value,))
    cv2.polylines(mask, [hull], True, (value,), thickness=2 * radius + 1)


def build_regions(
    rgb: np.ndarray, lab: np.ndarray, landmarks: np.ndarray, inside: np.ndarray | None = None
) -> FaceRegions:
    """`inside` marks the pixels that came from the photo (the canonical crop may reach past
    its edge)."""
    shape = rgb.shape[:2]
    frame = face_frame(landmarks)
    points = landmarks[:, :2]
    oval = cv2.convexHull(np.round(points[fm.FaceModel.contour("FACE_OVAL")]).astype(np.int32))
    # The mesh stops near the hairline; let the face reach a little higher for the forehead.
    top = np.array([frame.to_image(u, -0.95) for u in (-0.7, 0.0, 0.7)])
    domain = _fill(shape, cv2.convexHull(np.vstack([oval[:, 0, :], top]).astype(np.int32))[:, 0, :])
    excluded = _fill(shape, _box_polygon(frame, NOSTRILS_BOX))
    grown = np.zeros(shape, np.uint8)
    for name, grow in EXCLUDED_CONTOURS.items():
        hull = cv2.convexHull(np.round(points[fm.FaceModel.contour(name)]).astype(np.int32))
        fill_grown(grown, hull, max(1, round(grow * frame.ipd)), 1)
    excluded |= grown.astype(bool)
    allowed = domain & ~excluded
    if inside is not None:
        allowed &= inside
    polygons = {name: _box_polygon(frame, box) for name, box in REGION_BOXES.items()}
    boxes = {name: _fill(shape, polygon) for name, polygon in polygons.items()}
    masks = {name: box & allowed for name, box in boxes.items()}
    forehead = masks["forehead"]
    band = _fill(shape, _box_polygon(frame, FOREHEAD_REFERENCE_BAND)) & allowed
    if np.count_nonzero(band) >= 20:
        reference = np.median(lab[band], axis=0)
        pixels = lab[forehead]
        distance = np.linalg.norm(pixels - reference, axis=1)
        strands = _strand_energy(lab[..., 0], frame.ipd)[forehead] > HAIR_STRAND_ENERGY
        hair = (
            (distance > HAIR_DELTA_E)
            | (pixels[:, 0] < reference[0] - HAIR_DARKER_L)
            | (strands & (distance > HAIR_TEXTURED_DELTA_E))
        )
        forehead[forehead] = ~hair
    # Measurable skin is what the regions cover: the face's rim (jaw shadow, ears, hairline)
    # is left out.
    skin = np.zeros(shape, bool)
    for mask in masks.values():
        skin |= mask
    fractions = {
        name: round(np.count_nonzero(masks[name]) / max(1, np.count_nonzero(box)), 3)
        for name, box in boxes.items()
    }
    return FaceRegions(
        frame=frame,
        skin=skin,
        masks=masks,
        polygons=polygons,
        skin_fractions=fractions,
        allowed=allowed,
    )
