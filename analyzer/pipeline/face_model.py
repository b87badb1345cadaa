"""The face detector and landmark model, behind one small interface so either can be swapped.

Chosen: MediaPipe 0.10.21's bundled models (Apache-2.0, inside the wheel, nothing downloaded):
the full-range BlazeFace detector to count and size faces (it finds small faces the short-range
one misses, so a small face is reported as small, not as absent) and FaceMesh with refined
landmarks (478 points, irises included). Alternatives considered: OpenCV's Haar cascades
(detection only, no landmarks) and dlib's 68-point model (its training data excludes commercial
use).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logs: warnings and up only

from google.protobuf import message_factory  # noqa: E402

# MediaPipe 0.10.21's bindings call MessageFactory.GetPrototype, which protobuf 6 removed in
# favour of GetMessageClass (the same class); without it every start printed an AttributeError
# that looked like a failure. Restored as the one-line alias protobuf itself documents.
if not hasattr(message_factory.MessageFactory, "GetPrototype"):
    message_factory.MessageFactory.GetPrototype = (  # type: ignore[attr-defined]
        lambda self, descriptor: message_factory.GetMessageClass(descriptor)
    )

import mediapipe as mp  # noqa: E402

from analyzer.pipeline.age_model import AgeModel  # noqa: E402

logger = logging.getLogger(__name__)

# FaceMesh landmark indices used by name (MediaPipe's canonical face model).
RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER = 33, 133, 362, 263
RIGHT_IRIS, LEFT_IRIS = 468, 473
NOSE_TIP, SUBNASALE, NOSE_BRIDGE = 1, 2, 168
UPPER_LIP, LOWER_LIP, MOUTH_RIGHT, MOUTH_LEFT = 0, 17, 61, 291
CHIN, FOREHEAD_TOP = 152, 10
DETECTION_SIDE = 512


@dataclass(frozen=True)
class DetectedFace:
    """A detector box (x, y, width, height in px) and its six keypoints (px): right eye, left
    eye, nose tip, mouth centre, right ear, left ear (the subject's right and left)."""

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float | None  # the detector's confidence; None when found by FaceMesh


# FaceMesh indices of the detector's six keypoints: irises, nose tip, inner lips (mouth
# centre), and the face's sides at the ears.
_KEYPOINTS = ((RIGHT_IRIS,), (LEFT_IRIS,), (NOSE_TIP,), (13, 14), (234,), (454,))


def face_from_landmarks(points: np.ndarray) -> DetectedFace:
    """A detector-style box and keypoints from FaceMesh landmarks."""
    xy = points[:, :2]
    (left, top), (right, bottom) = xy.min(axis=0), xy.max(axis=0)
    keypoints = np.array([xy[list(indices)].mean(axis=0) for indices in _KEYPOINTS])
    return DetectedFace(
        box=(left, top, right - left, bottom - top), keypoints=keypoints, score=None
    )


# A single face narrower than this share of the photo may be one of several: the detector then
# counts the faces too (a selfie's face is wider, and costs nothing extra), those it scores at
# least GROUP_CHECK_MIN_SCORE.
GROUP_CHECK_FACE_FRACTION = 0.25
GROUP_CHECK_MIN_SCORE = 0.75
# An unsure detection beside another face is confirmed by FaceMesh on a crop this many face
# widths wide (at one width or less the crop cuts the chin and brow and real faces fail; at
# three a real face in a crowd passes and a hand does not), resized to this side in pixels.
CONFIRM_CROP_WIDTHS = 3.0
CONFIRM_CROP_SIDE = 256
CONFIRM_MAX_OFFSET = 0.7
# The landmark model sees each channel stretched between these percentiles of its own values.
STRETCH_PERCENTILES = (1.0, 99.0)


def stretch_levels(rgb: np.ndarray) -> np.ndarray:
    """Each channel mapped linearly so its 1st and 99th percentiles become 0 and 255. A change
    of exposure or white balance scales the channels, and this undoes it: the landmark model
    then sees nearly the same image, so the landmarks, and every region measured from them, do
    not move with the camera's settings. Only the model's input; nothing is measured on it."""
    sample = rgb[::4, ::4].reshape(-1, 3)
    low, high = np.percentile(sample, STRETCH_PERCENTILES, axis=0)
    levels = np.arange(256, dtype=np.float32)[:, None]
    tables = np.clip((levels - low) * 255.0 / np.maximum(high - low, 1.0), 0, 255)
    # One table per channel, applied in one pass.
    return np.asarray(cv2.LUT(rgb, tables.astype(np.uint8)[:, None, :]))


def _same_face(a: DetectedFace, b: DetectedFace) -> bool:
    """Two detections of one face (from overlapping tiles): centres closer than half a box."""
    ax, ay = a.box[0] + a.box[2] / 2, a.box[1] + a.box[3] / 2
    bx, by = b.box[0] + b.box[2] / 2, b.box[1] + b.box[3] / 2
    return bool(np.hypot(ax - bx, ay - by) < 0.5 * max(a.box[2], b.box[2]))


class FaceModel:
    """Holds the MediaPipe graphs and the age network; one per worker process (the graphs are
    not thread-safe)."""

    def __init__(self, min_detection_confidence: float = 0.5) -> None:
        self.age = AgeModel()
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=min_detection_confidence
        )
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=2,  # two, to tell "one face" from "more than one"
            refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
        )

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Every face in the photo. The detector sees the photo at 192x192, so it also looks at
        overlapping half-size tiles, where small faces (a group photo's, a distant one) are
        large enough to be found; detections of one face are merged. Where even those find
        nothing, quarter-size tiles look once more: a face a few percent of a large frame wide
        is then refused as too small, which the person can act on, not as absent."""
        found = list(self._detect_once(rgb))
        self._detect_in_tiles(rgb, 2, found)
        if not found:
            self._detect_in_tiles(rgb, 4, found)
        return found

    def _detect_in_tiles(self, rgb: np.ndarray, parts: int, found: list[DetectedFace]) -> None:
        """Adds to `found` the faces in tiles 1/`parts` of each side, overlapping by half."""
        height, width = rgb.shape[:2]
        tile_h, tile_w = height // parts, width // parts
        steps = 2 * parts - 1
        for top in {round(i * (height - tile_h) / (steps - 1)) for i in range(steps)}:
            for left in {round(i * (width - tile_w) / (steps - 1)) for i in range(steps)}:
                tile = np.ascontiguousarray(rgb[top : top + tile_h, left : left + tile_w])
                for face in self._detect_once(tile):
                    x, y, w, h = face.box
                    moved = DetectedFace(
                        box=(x + left, y + top, w, h),
                        keypoints=face.keypoints + np.array([left, top]),
                        score=face.score,
                    )
                    if not any(_same_face(moved, seen) for seen in found):
                        found.append(moved)

    def _detect_once(self, rgb: np.ndarray) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        # The detector looks at 192x192; handing it a 512 px copy saves MediaPipe from
        # converting and scaling the whole photo, and loses nothing it would see.
        shrink = DETECTION_SIDE / max(height, width)
        if shrink < 1:
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        found = self._detector.process(rgb).detections or []
        faces = []
        for detection in found:
            box = detection.location_data.relative_bounding_box
            points = np.array(
                [[k.x * width, k.y * height] for k in detection.location_data.relative_keypoints]
            )
            faces.append(
                DetectedFace(
                    box=(
                        box.xmin * width,
                        box.ymin * height,
                        box.width * width,
                        box.height * height,
                    ),
                    keypoints=points,
                    score=float(detection.score[0]),
                )
            )
        return faces

    def find_faces(self, rgb: np.ndarray) -> tuple[list[DetectedFace], np.ndarray | None]:
        """The faces in the photo, and the landmarks when there is exactly one.

        FaceMesh runs first (its short-range detector plus the landmark model, ~7 ms); only
        when it finds no face or more than one does the slower full-range detector look, so
        that a small or distant face is reported as such and every face of a group is counted."""
        meshes = self.landmark_sets(rgb)
        if len(meshes) == 1:
            face = face_from_landmarks(meshes[0])
            if face.box[2] >= GROUP_CHECK_FACE_FRACTION * rgb.shape[1]:
                return [face], meshes[0]
            # A small face may be one of a group the mesh model did not see whole. It is a group
            # when the detector is sure of another face (a less sure find beside one clear face
            # is more often a hand or a pattern than a person); then every face it found counts.
            # One look at the whole photo (the tiles cost ten): enough to tell a group.
            others = [f for f in self._detect_once(rgb) if not _same_face(f, face)]
            if not any((f.score or 0.0) >= GROUP_CHECK_MIN_SCORE for f in others):
                return [face], meshes[0]
            return [face, *others], None
        # None or several: the detector counts every face, so a group photo is reported with
        # its real head count and a small face as small. Beside another face, an unsure find
        # counts only when the landmark model, shown the find up close, sees a face there too:
        # a hand or a shoulder scores 0.65 where a real face in a crowd can score 0.62.
        faces = [face_from_landmarks(points) for points in meshes]
        detected = sorted(self.detect(rgb), key=lambda f: -(f.score or 0.0))
        for face in detected:
            if any(_same_face(face, seen) for seen in faces):
                continue
            unsure = (face.score or 0.0) < GROUP_CHECK_MIN_SCORE
            if faces and unsure and not self._confirmed_up_close(rgb, face):
                continue
            faces.append(face)
        return faces, None

    def _confirmed_up_close(self, rgb: np.ndarray, face: DetectedFace) -> bool:
        """Whether FaceMesh finds a face in a crop three face widths wide around a detection,
        scaled to the size its short-range detector expects."""
        x, y, w, _ = face.box
        centre_x, centre_y = x + w / 2, y + face.box[3] / 2
        reach = CONFIRM_CROP_WIDTHS * w / 2
        height, width = rgb.shape[:2]
        left, top = int(max(0, centre_x - reach)), int(max(0, centre_y - reach))
        right, bottom = int(min(width, centre_x + reach)), int(min(height, centre_y + reach))
        if right - left < 2 or bottom - top < 2:
            return False
        crop = cv2.resize(
            np.ascontiguousarray(rgb[top:bottom, left:right]),
            (CONFIRM_CROP_SIDE, CONFIRM_CROP_SIDE),
            interpolation=cv2.INTER_CUBIC,
        )
        # The face FaceMesh finds must be the detection's: its centre near the crop's (on a
        # suit's shoulder it found one 0.86 detection widths off; in a crowd, 0.1 to 0.6).
        expected_width = CONFIRM_CROP_SIDE / CONFIRM_CROP_WIDTHS
        for points in self.landmark_sets(crop):
            left_x, top_y, found_w, found_h = face_from_landmarks(points).box
            offset = np.hypot(
                left_x + found_w / 2 - CONFIRM_CROP_SIDE / 2,
                top_y + found_h / 2 - CONFIRM_CROP_SIDE / 2,
            )
            if offset <= CONFIRM_MAX_OFFSET * expected_width:
                return True
        return False

    def landmark_sets(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Each face's 478 landmarks as an (N, 3) array: x and y in pixels, z in pixels of
        depth."""
        height, width = rgb.shape[:2]
        found = self._mesh.process(stretch_levels(rgb)).multi_face_landmarks or []
        return [
            np.array(
                [[p.x * width, p.y * height, p.z * width] for p in face.landmark], dtype=np.float64
            )
            for face in found
        ]

    @staticmethod
    @cache
    def contour(name: str) -> np.ndarray:
        """Landmark indices of one of MediaPipe's named contours (e.g. 'LIPS', 'LEFT_EYE'),
        worked out once per process."""
        edges = getattr(mp.solutions.face_mesh_connections, f"FACEMESH_{name}")
        indices = np.array(sorted({index for edge in edges for index in edge}))
        indices.setflags(write=False)
        return indices
