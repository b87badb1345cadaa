"""Controlled edits of a real photo, each changing one known thing: the camera (exposure, white
balance, JPEG quality, noise, size) or the skin (planted spots, a flushed cheek, darker
under-eyes, a deeper complexion). Skin edits are made in CIELAB, so their size is stated in the
units the analyzer reports; places are given in the face's own frame (IPD units from the eye
centres), found with the analyzer's landmark model on the unedited photo."""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

from analyzer.pipeline import regions
from analyzer.pipeline.face_model import FaceModel
from analyzer.pipeline.regions import REGION_BOXES, FaceFrame


def encode(rgb: np.ndarray, fmt: str = "JPEG", quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    else:
        Image.fromarray(rgb).save(buffer, fmt)
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB")).copy()


def gain(rgb: np.ndarray, red: float = 1.0, green: float = 1.0, blue: float = 1.0) -> np.ndarray:
    """Multiplies the 8-bit sRGB values per channel (brightness when all three are equal)."""
    out = rgb.astype(np.float32) * np.array([red, green, blue], np.float32)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def add_noise(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    grain = np.random.default_rng(seed).normal(0.0, sigma, rgb.shape)
    return np.clip(np.round(rgb + grain), 0, 255).astype(np.uint8)


def rescale(rgb: np.ndarray, factor: float) -> np.ndarray:
    size = (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


# The camera edits a re-take may bring (exposure, compression, the light's colour): the
# stability goal of `make validate`, and part of what the margins are fitted on.
CAMERA_EDITS: dict[str, Callable[[np.ndarray], bytes]] = {
    "bright x0.85": lambda rgb: encode(gain(rgb, 0.85, 0.85, 0.85), "PNG"),
    "bright x1.15": lambda rgb: encode(gain(rgb, 1.15, 1.15, 1.15), "PNG"),
    "jpeg q75": lambda rgb: encode(rgb, quality=75),
    "jpeg q80": lambda rgb: encode(rgb, quality=80),
    "jpeg q95": lambda rgb: encode(rgb, quality=95),
    "wb warm": lambda rgb: encode(gain(rgb, 1.08, 1.0, 0.92), "PNG"),
    "wb cool": lambda rgb: encode(gain(rgb, 0.92, 1.0, 1.08), "PNG"),
}


def face_landmarks(rgb: np.ndarray, model: FaceModel) -> np.ndarray:
    """The analyzer's landmarks of the one face in the photo."""
    meshes = model.landmark_sets(rgb)
    if len(meshes) != 1:
        raise ValueError(f"{len(meshes)} faces: edits need exactly one")
    return meshes[0]


def face_frame(rgb: np.ndarray, model: FaceModel) -> FaceFrame:
    """The analyzer's own face frame (origin between the iris centres, unit = IPD) of the one
    face in the photo."""
    return regions.face_frame(face_landmarks(rgb, model))


def _lab_edit(rgb: np.ndarray, weight: np.ndarray, delta: tuple[float, float, float]) -> np.ndarray:
    """Adds weight x (dL*, da*, db*) in CIELAB and returns 8-bit sRGB."""
    lab = np.asarray(cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab))
    lab = lab + weight[..., None] * np.array(delta, np.float32)
    out = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def _soft_disc(distance: np.ndarray, radius: float) -> np.ndarray:
    """1 inside 0.7 radius, a cosine edge to 0 at 1.3 radius: the stated contrast holds over the
    spot, with no hard rim for a detector to latch on to."""
    t = np.clip((distance / radius - 0.7) / 0.6, 0.0, 1.0)
    return (0.5 + 0.5 * np.cos(np.pi * t)).astype(np.float32)


# Five places per cheek (u toward the subject's left, v down; IPD units), 0.15 IPD apart or more.
CHEEK_SPOTS = ((0.46, 0.52), (0.72, 0.55), (0.59, 0.67), (0.46, 0.80), (0.72, 0.80))


def spot_centres(frame: FaceFrame) -> list[np.ndarray]:
    return [frame.to_image(side * u, v) for side in (1, -1) for u, v in CHEEK_SPOTS]


def plant_spots(
    rgb: np.ndarray, frame: FaceFrame, delta_l: float = 12.0, radius_ipd: float = 0.034
) -> np.ndarray:
    """Brown spots (lentigo-like): L* lower by delta_l, b* higher by 0.3 x delta_l."""
    yy, xx = np.mgrid[: rgb.shape[0], : rgb.shape[1]].astype(np.float32)
    weight = np.zeros(rgb.shape[:2], np.float32)
    for cx, cy in spot_centres(frame):
        disc = _soft_disc(np.hypot(xx - cx, yy - cy), radius_ipd * frame.ipd)
        weight = np.maximum(weight, disc)
    return _lab_edit(rgb, weight, (-delta_l, 0.0, 0.3 * delta_l))


def _soft_box(u: np.ndarray, v: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    u0, u1, v0, v1 = box
    edge = 0.04  # IPD: a soft border, as a flush or a shadow has
    inside_u = np.clip(np.minimum(u - u0, u1 - u) / edge, 0, 1)
    inside_v = np.clip(np.minimum(v - v0, v1 - v) / edge, 0, 1)
    return (inside_u * inside_v).astype(np.float32)


# The subject's left cheek as the analyzer's regions define it (its soft edge lies inside).
LEFT_CHEEK_BOX = REGION_BOXES["left_cheek"]
UNDER_EYE_BOX = (0.22, 0.78, 0.12, 0.34)


def redden_left_cheek(rgb: np.ndarray, frame: FaceFrame, delta_a: float = 4.0) -> np.ndarray:
    u, v = frame.pixel_uv(rgb.shape)
    return _lab_edit(rgb, _soft_box(u, v, LEFT_CHEEK_BOX), (0.0, delta_a, 0.0))


def darken_under_eyes(rgb: np.ndarray, frame: FaceFrame, delta_l: float = 5.0) -> np.ndarray:
    u, v = frame.pixel_uv(rgb.shape)
    weight = np.maximum(_soft_box(u, v, UNDER_EYE_BOX), _soft_box(-u, v, UNDER_EYE_BOX))
    return _lab_edit(rgb, weight, (-delta_l, 0.0, 0.0))


def warm_light_from_one_side(
    rgb: np.ndarray, frame: FaceFrame, strength: float = 0.08
) -> np.ndarray:
    """A warm lamp on the subject's left and a cool window on the right: red gains and blue
    loses by `strength` per IPD toward the subject's left (8-bit values, green untouched), a
    smooth gradient of light colour across the face that is not in the skin."""
    u, _ = frame.pixel_uv(rgb.shape)
    tilt = np.clip(strength * u, -0.25, 0.25)
    out = rgb.astype(np.float32)
    out[..., 0] *= 1.0 + tilt
    out[..., 2] *= 1.0 - tilt
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# The cheek just below the under-eye, which a smile lifts into the light.
CHEEK_APPLE_BOX = (0.22, 0.78, 0.40, 0.60)


def lift_cheek_apples(rgb: np.ndarray, frame: FaceFrame, delta_l: float = 6.0) -> np.ndarray:
    """Both cheeks just below the under-eyes lighter, as a smile bulges them toward the light:
    the under-eyes themselves do not change."""
    u, v = frame.pixel_uv(rgb.shape)
    weight = np.maximum(_soft_box(u, v, CHEEK_APPLE_BOX), _soft_box(-u, v, CHEEK_APPLE_BOX))
    return _lab_edit(rgb, weight, (delta_l, 0.0, 0.0))


# The eyes are left as they are, grown by this much (IPD) so the sclera keeps its own colour;
# the edge of the change is soft over SKIN_EDGE_IPD. Both keep the edge inside the margin the
# analyzer leaves out around the eyes (0.10 IPD) and lips (0.06): an edge in a measured region
# is a line the wrinkle measure rightly finds.
EYE_GROW_IPD = 0.03
SKIN_EDGE_IPD = 0.015
SKIN_TOP_V = -1.15  # IPD above the eyes
SKIN_BEYOND_OUTLINE_IPD = 0.06


def darken_skin(
    rgb: np.ndarray, landmarks: np.ndarray, lightness: float = 0.75, delta_b: float = 6.0
) -> np.ndarray:
    """A deeper complexion in the same light: the face's skin (inside the face's outline, eyes
    and lips excluded, so the whites of the eyes keep their colour) as if it reflected less.
    L* + 16 is multiplied by `lightness` (so luminance by its cube) and a* and b* with it, as a
    darker reflectance scales a fold's shading rather than subtracting from it; then b* rises by
    delta_b, the yellow-brown of more melanin."""
    frame = regions.face_frame(landmarks)
    points = landmarks[:, :2]
    mask = np.zeros(rgb.shape[:2], np.uint8)
    # The mesh's outline stops below the hairline, and the analyzer's forehead reaches higher:
    # the change reaches into the hair, so its edge is no line across the forehead.
    outline = points[FaceModel.contour("FACE_OVAL")]
    top = np.array([frame.to_image(u, SKIN_TOP_V) for u in (-0.8, 0.0, 0.8)])
    face = cv2.convexHull(np.round(np.vstack([outline, top])).astype(np.int32))
    # Past the outline too, so the soft edge falls outside the skin the analyzer measures.
    regions.fill_grown(mask, face, max(1, round(SKIN_BEYOND_OUTLINE_IPD * frame.ipd)), 1)
    grow = max(1, round(EYE_GROW_IPD * frame.ipd))
    for name in ("LEFT_EYE", "RIGHT_EYE", "LIPS"):
        hull = cv2.convexHull(np.round(points[FaceModel.contour(name)]).astype(np.int32))
        if name == "LIPS":
            cv2.fillPoly(mask, [hull], (0,))
        else:
            regions.fill_grown(mask, hull, grow, 0)
    weight = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), SKIN_EDGE_IPD * frame.ipd)
    lab = np.asarray(cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab))
    darker = lab.copy()
    darker[..., 0] = (lab[..., 0] + 16.0) * lightness - 16.0
    darker[..., 1] = lab[..., 1] * lightness
    darker[..., 2] = lab[..., 2] * lightness + delta_b
    mixed = lab + weight[..., None] * (darker - lab)
    out = cv2.cvtColor(mixed.astype(np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)
