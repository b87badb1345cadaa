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


# Symmetric FaceMesh landmark pairs (subject's left, right): eye corners, irises, brow ends,
# mouth corners, the face's sides. Their mean difference is the head's left-right axis in 3-D.
SYMMETRIC_PAIRS = ((263, 33), (362, 133), (473, 468), (300, 70), (291, 61), (454, 234),
                   (356, 127))  # fmt: skip
FOREHEAD, CHIN = 10, 152
# A frontal face's forehead-to-chin line leans this much in FaceMesh's depth (degrees), measured
# on the calibration portraits (docs/calibration.md); pitch is counted from it.
FRONTAL_PITCH_OFFSET = 0.0
# A roll beyond this is a photo taken or stored sideways, not a tilted head.
SIDEWAYS_ROLL_DEGREES = 55.0


def head_pose_from_mesh(landmarks: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch and roll (degrees) of the head from FaceMesh's 3-D landmarks (x, y in pixels,
    z depth in the same units). The left-right axis is the mean of symmetric landmark pairs'
    differences, the up-down axis the forehead-to-chin line made orthogonal to it; the rotation
    they span gives the angles, so a tilted photo (roll) is not mistaken for a turned head
    (yaw), whatever the face's size in the photo."""
    pairs = np.array(SYMMETRIC_PAIRS)
    across = (landmarks[pairs[:, 0]] - landmarks[pairs[:, 1]]).mean(axis=0)
    across /= max(float(np.linalg.norm(across)), 1e-9)
    down = landmarks[CHIN] - landmarks[FOREHEAD]
    down -= across * float(down @ across)
    down /= max(float(np.linalg.norm(down)), 1e-9)
    roll = math.degrees(math.atan2(across[1], across[0]))
    yaw = math.degrees(math.asin(float(np.clip(across[2], -1, 1))))
    # Pitch in the face's own upright frame: how far the chin comes toward or goes away from
    # the camera along the forehead-to-chin line.
    pitch = math.degrees(math.asin(float(np.clip(-down[2], -1, 1)))) - FRONTAL_PITCH_OFFSET
    return yaw, pitch, roll


def head_pose_degrees(keypoints: np.ndarray) -> tuple[float, float, float]:
    """Approximate yaw, pitch and roll from the detector's eyes, nose and mouth keypoints, for a
    face the landmark model did not find (then only roll and size decide anything).

    Roll is the eye line's angle. Yaw and pitch come from where the nose tip sits between the
    eyes and between the eye line and the mouth, against a frontal face's proportions.
    """
    right_eye, left_eye, nose, mouth = keypoints[0], keypoints[1], keypoints[2], keypoints[3]
    eye_vector = left_eye - right_eye
    roll = math.degrees(math.atan2(eye_vector[1], eye_vector[0]))
    cos_r, sin_r = math.cos(math.radians(-roll)), math.sin(math.radians(-roll))
    rotation = np.array([[cos_r, -sin_r], [sin_r, cos_r]])
    mid = (right_eye + left_eye) / 2
    nose_f, mouth_f = rotation @ (nose - mid), rotation @ (mouth - mid)
    half_eye = max(float(np.linalg.norm(eye_vector)) / 2, 1e-6)
    yaw = math.degrees(math.asin(float(np.clip(nose_f[0] / (1.1 * half_eye), -1, 1))))
    ratio = nose_f[1] / max(mouth_f[1], 1e-6)
    pitch = math.degrees(math.asin(float(np.clip((ratio - 0.62) / 0.45, -1, 1))))
    return yaw, pitch, roll


# Immerkaer's noise kernel: the difference of two Laplacians, which cancels image structure up
# to second order and leaves the noise.
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)


def noise_sigma(gray: np.ndarray) -> float:
    """The photo's noise as a standard deviation in 8-bit grey levels of luma, on the central
    face of the image as analysed (Immerkaer 1996: sqrt(pi/2) / 6 times the mean absolute
    response of _NOISE_KERNEL; independent noise of sigma in each channel shows as ~0.67 sigma).
    Reported for the record; the detectors set their thresholds from their own responses'
    spread over the skin."""
    if min(gray.shape) < 3:
        return 0.0
    response = cv2.filter2D(gray.astype(np.float64), -1, _NOISE_KERNEL)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(response).mean() / 6)


def jpeg_blockiness(gray: np.ndarray, period: int | None) -> float | None:
    """How much stronger the steps between neighbouring pixels are on JPEG's block grid than
    off it (after Wang, Bovik and Evans 2000): the mean absolute difference across each phase of
    the grid, the strongest phase against the median of the others, averaged over rows and
    columns. About 1.0 to 1.1 on a photo never compressed hard; on the calibration portraits
    re-saved at quality 25, 1.5 to 2.1 (a photo compressed before, as many are, starts higher
    than 1.1). The phase with the
    strongest steps is taken as the grid, so a crop or an EXIF rotation needs no alignment.
    None when the working copy shows no grid (PNG, a 1/8 draft, a resize). Reported for the
    record: the detectors' thresholds follow their own responses' spread over the skin, which
    grows with blocking as with grain."""
    if period is None or min(gray.shape) < 4 * period:
        return None
    values = gray.astype(np.float32)
    ratios = []
    for steps in (
        np.abs(np.diff(values, axis=1)).mean(axis=0),
        np.abs(np.diff(values, axis=0)).mean(axis=1),
    ):
        whole = len(steps) // period * period
        phases = steps[:whole].reshape(-1, period).mean(axis=0)
        others = np.delete(phases, int(phases.argmax()))
        ratios.append(float(phases.max()) / max(float(np.median(others)), 1e-6))
    return round(float(np.mean(ratios)), 3)


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
    if abs(roll) > SIDEWAYS_ROLL_DEGREES:
        return Failure(
            "PHOTO_SIDEWAYS",
            f"the photo is turned on its side or upside down (the face is rotated {roll:.0f}°)",
            "rotate the photo upright before sending it",
        )
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


def check_lighting_against_sclera(
    face_lightness: float, sclera_luminance: float | None, limits: QualityLimits = QUALITY_LIMITS
) -> None:
    """A dim face with dim whites of the eyes is an underexposed photo, not dark skin: the
    sclera is light in everyone, so it tells the two apart where face lightness cannot."""
    if sclera_luminance is None:
        return
    if (
        sclera_luminance < limits.min_sclera_luminance
        and face_lightness < limits.dim_face_lightness
    ):
        raise reject(
            Failure(
                "TOO_DARK",
                f"the photo is underexposed (face lightness {face_lightness:.0f} of 100, whites of"
                f" the eyes at {sclera_luminance:.0%} of full light)",
                "find more light: face a window or a lamp",
            )
        )


def check_quality(
    rgb: np.ndarray,
    faces: list[DetectedFace],
    scale: float,
    landmarks: np.ndarray | None = None,
    limits: QualityLimits = QUALITY_LIMITS,
    block_period: int | None = None,
) -> QualityReport:
    """`scale` is original pixels per working pixel, so size rules speak of the photo as taken.
    With the face's 3-D landmarks the pose is fitted from them; a face too small to measure is
    refused for its size alone, since its pose and sharpness figures are not reliable."""
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
    if landmarks is not None:
        yaw, pitch, roll = head_pose_from_mesh(landmarks)
    else:
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
    gray_centre = cv2.cvtColor(centre, cv2.COLOR_RGB2GRAY)
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
        "noise_sigma": round(noise_sigma(gray_centre), 2),
        "jpeg_blockiness": jpeg_blockiness(gray_centre, block_period),
        # Blown highlights: two channels at the top (one saturated channel, often red on light
        # skin, still leaves the colour measurable from the other two).
        "clipped_fraction": round(float(((centre >= 250).sum(axis=2) >= 2).mean()), 3),
    }
    in_frame = None if inside else Failure(
        "FACE_NOT_IN_FRAME",
        "part of the face is outside the photo",
        "move back or centre your face so all of it is in the frame",
    )  # fmt: skip
    too_small = _size_rule(w, width, scale, limits)
    if too_small is not None:
        raise reject(too_small)
    failures = [
        failure
        for failure in (
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
