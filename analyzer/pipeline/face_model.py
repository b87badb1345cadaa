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
        large enough to be found; detections of one face are merged."""
        found = list(self._detect_once(rgb))
        height, width = rgb.shape[:2]
        tile_h, tile_w = height // 2, width // 2
        for top in (0, height // 4, height - tile_h):
            for left in (0, width // 4, width - tile_w):
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
        return found

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
        # its real head count and a small face as small.
        faces = [face_from_landmarks(points) for points in meshes]
        for face in self.detect(rgb):
            if not any(_same_face(face, seen) for seen in faces):
                faces.append(face)
        return faces, None

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
