"""Quality gate: one face, large enough, inside the frame, facing the camera, sharp, well lit.

Every rule is checked and every failure is reported at once, each with its figure and a fix.
The figures are returned when the photo passes too, so the result shows how close it came.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from analyzer.pipeline.face_model import DetectedFace
from analyzer.pipeline.limits import QUALITY_LIMITS, QualityLimits
from analyzer.pipeline.rejection import Failure, reject

SHARPNESS_FACE_WIDTH = 256  # px: faces are compared at one size, so the figure is scale-free


@dataclass(frozen=True)
class QualityReport:
    face: DetectedFace
    figures: dict[str, Any]


def head_pose_degrees(keypoints: np.ndarray) -> tuple[float, float, float]:
    """Approximate yaw, pitch and roll from the detector's eyes, nose and mouth keypoints.

    Roll is the eye line's angle. Yaw and pitch come from where the nose tip sits between the
    eyes and between the eye line and the mouth, against a frontal face's proportions; they
    are screening figures (good to a few degrees near frontal), not a fitted 3-D pose.
    """
    right_eye, left_eye, nose, mouth = keypoints[0], keypoints[1], keypoints[2], keypoints[3]
    eye_vector = left_eye - right_eye
    roll = math.degrees(math.atan2(eye_vector[1], eye_vector[0]))
    # Work in the face's own frame: x along the eye line, y down the face.
    cos_r, sin_r = math.cos(math.radians(-roll)), math.sin(math.radians(-roll))
    rotation = np.array([[cos_r, -sin_r], [sin_r, cos_r]])
    mid = (right_eye + left_eye) / 2
    nose_f, mouth_f = rotation @ (nose - mid), rotation @ (mouth - mid)
    half_eye = max(float(np.linalg.norm(eye_vector)) / 2, 1e-6)
    # The nose tip stands about 1.1 half-eye-distances in front of the eye plane.
    yaw = math.degrees(math.asin(float(np.clip(nose_f[0] / (1.1 * half_eye), -1, 1))))
    # Frontal faces put the nose tip ~62% of the way from the eye line to the mouth.
    ratio = nose_f[1] / max(mouth_f[1], 1e-6)
    pitch = math.degrees(math.asin(float(np.clip((ratio - 0.62) / 0.45, -1, 1))))
    return yaw, pitch, roll


def sharpness(gray_face: np.ndarray) -> float:
    """Variance of the Laplacian (Pech-Pacheco et al. 2000) on the face scaled to a fixed width,
    divided by the face's own grey-level variance (x1000) so that a dim photo is not mistaken
    for a blurred one."""
    height, width = gray_face.shape
    scale = SHARPNESS_FACE_WIDTH / max(width, 1)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    size = (SHARPNESS_FACE_WIDTH, max(1, round(height * scale)))
    resized = cv2.resize(gray_face.astype(np.float64), size, interpolation=interpolation)
    contrast = max(float(resized.var()), 1e-6)
    return 1000 * float(cv2.Laplacian(resized, cv2.CV_64F).var()) / contrast


def _size_rule(w: float, width: int, scale: float, limits: QualityLimits) -> Failure | None:
    fraction = w / width
    if fraction >= limits.min_face_fraction and w * scale >= limits.min_face_pixels:
        return None
    return Failure(
        "FACE_TOO_SMALL",
        f"the face is {w * scale:.0f} px wide, {fraction:.0%} of the photo"
        f" (at least {limits.min_face_pixels:.0f} px and {limits.min_face_fraction:.0%})",
        "come closer to the camera so your face fills more of the frame",
    )


def _pose_rule(yaw: float, pitch: float, roll: float, limits: QualityLimits) -> Failure | None:
    if (
        abs(yaw) <= limits.max_yaw_degrees
        and abs(pitch) <= limits.max_pitch_degrees
        and abs(roll) <= limits.max_roll_degrees
    ):
        return None
    return Failure(
        "HEAD_TURNED",
        f"the head is turned (yaw {yaw:.0f}°, pitch {pitch:.0f}°, roll {roll:.0f}°;"
        f" at most {limits.max_yaw_degrees:.0f}°, {limits.max_pitch_degrees:.0f}°,"
        f" {limits.max_roll_degrees:.0f}°)",
        "look straight into the camera and keep your head level",
    )


def _sharpness_rule(value: float, limits: QualityLimits) -> Failure | None:
    if value >= limits.min_sharpness:
        return None
    return Failure(
        "BLURRY",
        f"the photo is blurred (sharpness {value:.1f}, at least {limits.min_sharpness:.1f})",
        "hold the phone still, tap to focus on your face, and wipe the lens",
    )


def _exposure_rule(lightness: float, clipped: float, limits: QualityLimits) -> Failure | None:
    if lightness < limits.min_lightness:
        return Failure(
            "TOO_DARK",
            f"the face is too dark (lightness {lightness:.0f} of 100,"
            f" at least {limits.min_lightness:.0f})",
            "find more light: face a window or a lamp",
        )
    if lightness > limits.max_lightness or clipped > limits.max_clipped_fraction:
        return Failure(
            "TOO_BRIGHT",
            f"the face is overexposed (lightness {lightness:.0f} of 100,"
            f" {clipped:.0%} of it clipped)",
            "move out of direct light or turn off the flash",
        )
    return None


def check_quality(
    rgb: np.ndarray, faces: list[DetectedFace], scale: float, limits: QualityLimits = QUALITY_LIMITS
) -> QualityReport:
    """`scale` is original pixels per working pixel, so size rules speak of the photo as taken."""
    if not faces:
        raise reject(
            Failure(
                "NO_FACE",
                "no face was found",
                "take the photo facing the camera, with your whole face in the frame",
            )
        )
    if len(faces) > 1:
        raise reject(
            Failure(
                "MULTIPLE_FACES",
                f"{len(faces)} faces were found",
                "take the photo of one face only, with nobody else in the frame",
            )
        )
    face = faces[0]
    height, width = rgb.shape[:2]
    x, y, w, h = face.box
    yaw, pitch, roll = head_pose_degrees(face.keypoints)
    margin = 0.02 * w
    inside = x >= -margin and y >= -margin and x + w <= width + margin and y + h <= height + margin
    # Sharpness on the whole face box; exposure on its centre, away from hair and background.
    x0, y0, x1, y1 = max(0, int(x)), max(0, int(y)), min(width, int(x + w)), min(height, int(y + h))
    face_rgb = rgb[y0:y1, x0:x1]
    if min(face_rgb.shape[:2]) < 8:
        raise reject(
            Failure(
                "FACE_NOT_IN_FRAME",
                "the face is outside the photo",
                "centre your face in the frame",
            )
        )
    dy, dx = (y1 - y0) // 5, (x1 - x0) // 5
    centre = face_rgb[dy : face_rgb.shape[0] - dy, dx : face_rgb.shape[1] - dx]
    lightness = cv2.cvtColor(centre, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float64) * (100 / 255)
    figures: dict[str, Any] = {
        "face_count": 1,
        "face_width_px": round(w * scale, 1),
        "face_width_fraction": round(w / width, 3),
        "face_in_frame": bool(inside),
        "yaw_degrees": round(yaw, 1),
        "pitch_degrees": round(pitch, 1),
        "roll_degrees": round(roll, 1),
        "sharpness": round(sharpness(cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)), 2),
        "face_lightness": round(float(np.median(lightness)), 1),
        "clipped_fraction": round(float((centre >= 250).any(axis=2).mean()), 3),
    }
    in_frame = None if inside else Failure(
        "FACE_NOT_IN_FRAME",
        "part of the face is outside the photo",
        "move back or centre your face so all of it is in the frame",
    )  # fmt: skip
    failures = [
        failure
        for failure in (
            _size_rule(w, width, scale, limits),
            in_frame,
            _pose_rule(yaw, pitch, roll, limits),
            _sharpness_rule(figures["sharpness"], limits),
            _exposure_rule(figures["face_lightness"], figures["clipped_fraction"], limits),
        )
        if failure is not None
    ]
    if face.score is not None:
        figures["detection_score"] = round(face.score, 3)
    if failures:
        raise reject(*failures)
    return QualityReport(face=face, figures=figures)
