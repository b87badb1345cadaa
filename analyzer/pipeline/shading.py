"""How the face's own shape shades it in this photo's light, so that a measure comparing two
parts of the face can take out what the light's direction alone would make of them.

The mesh gives the face's 3D shape: each landmark's surface normal is the direction of least
spread of its nearest landmarks (a local plane fit), turned toward the camera, and normals are
spread over the skin by normalised convolution. The skin's log luminance is then fitted as a
constant plus a linear function of the normal, the first-order approximation of a Lambertian
surface under a distant light and an ambient one (Basri and Jacobs, IEEE TPAMI 2003: nine
spherical harmonics hold 98 % of such images' energy; the first four, used here, most of it).
The fit is robust (two passes that drop residuals past 2.5 robust deviations) and leaves out
the pixels being measured, so a real difference there is not fitted away. Cast shadows (a brow
over the eye under a stage light) are not in the model."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

NEIGHBOURS = 12  # landmarks in each local plane fit
NORMAL_SPREAD_IPD = 0.05  # the normalised convolution's sigma
FIT_STRIDE = 3  # every third skin pixel is enough for four coefficients
TRIM_DEVIATIONS = 2.5
TRIM_PASSES = 2


def landmark_normals(points: np.ndarray) -> np.ndarray:
    """Unit normals (N, 3) of the mesh at each landmark, pointing toward the camera (MediaPipe's
    z grows away from it)."""
    distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    nearest = np.argsort(distances, axis=1)[:, :NEIGHBOURS]
    patches = points[nearest] - points[nearest].mean(axis=1, keepdims=True)
    # The right singular vector of least spread is the local plane's normal.
    _, _, vt = np.linalg.svd(patches, full_matrices=False)
    normals = vt[:, -1, :]
    return normals * np.where(normals[:, 2:3] > 0, -1.0, 1.0)


def dense_normals(points: np.ndarray, shape: tuple[int, int], ipd: float) -> np.ndarray:
    """An (H, W, 3) field of unit normals spread from the landmarks; zero far from any."""
    sparse = np.zeros((*shape, 4), np.float32)
    normals = landmark_normals(points)
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, shape[1] - 1)
    ys = np.clip(np.round(points[:, 1]).astype(int), 0, shape[0] - 1)
    sparse[ys, xs, :3] += normals.astype(np.float32)
    sparse[ys, xs, 3] += 1.0
    blurred = cv2.GaussianBlur(sparse, (0, 0), NORMAL_SPREAD_IPD * ipd)
    field = blurred[..., :3] / np.maximum(blurred[..., 3:], 1e-6)
    length = np.linalg.norm(field, axis=2, keepdims=True)
    return np.where(blurred[..., 3:] > 1e-4, field / np.maximum(length, 1e-6), 0.0)


@dataclass(frozen=True)
class Shading:
    """log luminance (100 ln Y) ≈ coefficients · (1, nx, ny, nz) over the skin."""

    coefficients: np.ndarray
    normals: np.ndarray

    def predicted(self, mask: np.ndarray) -> np.ndarray:
        """The shading the fit expects at each pixel of `mask`."""
        n = self.normals[mask]
        return np.asarray(self.coefficients[0] + n @ self.coefficients[1:])


def fit_shading(
    log_luminance: np.ndarray,
    skin: np.ndarray,
    points: np.ndarray,
    ipd: float,
    leave_out: np.ndarray,
) -> Shading | None:
    """The face's shading fitted on `skin` minus `leave_out`; None without enough skin."""
    normals = dense_normals(points, (skin.shape[0], skin.shape[1]), ipd)
    usable = skin & ~leave_out & (np.abs(normals).sum(axis=2) > 0)
    ys, xs = np.nonzero(usable)
    ys, xs = ys[::FIT_STRIDE], xs[::FIT_STRIDE]
    if len(ys) < 50:
        return None
    design = np.column_stack([np.ones(len(ys)), normals[ys, xs]])
    values = log_luminance[ys, xs].astype(np.float64)
    keep = np.ones(len(ys), bool)
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    for _ in range(TRIM_PASSES):
        residuals = values - design @ coefficients
        spread = 1.4826 * float(np.median(np.abs(residuals[keep])))
        keep = np.abs(residuals) <= TRIM_DEVIATIONS * max(spread, 1e-6)
        coefficients, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
    return Shading(coefficients=coefficients, normals=normals)
