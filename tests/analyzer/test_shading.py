"""The face-shape shading model (analyzer/pipeline/shading.py) on shapes whose answer is known,
and on a real portrait relit from above."""

from __future__ import annotations

import numpy as np

from analyzer.pipeline.regions import face_frame
from analyzer.pipeline.shading import dense_normals, fit_shading, landmark_normals
from calibration import edits
from calibration.sources import SOURCES, photo_rgb

BY_NAME = {source.name: source for source in SOURCES}


def hemisphere(radius: float = 100.0, centre: float = 128.0) -> np.ndarray:
    """Points on the half of a sphere that faces the camera (z grows away from it)."""
    grid = np.linspace(-0.9, 0.9, 25)
    u, v = np.meshgrid(grid, grid)
    inside = u**2 + v**2 < 0.85
    x, y = u[inside] * radius, v[inside] * radius
    z = -np.sqrt(radius**2 - x**2 - y**2)
    return np.column_stack([x + centre, y + centre, z])


def test_a_planes_normal_points_toward_the_camera():
    xs, ys = np.meshgrid(np.arange(10.0), np.arange(10.0))
    plane = np.column_stack([xs.ravel(), ys.ravel(), 0.5 * xs.ravel()])
    expected = np.array([0.5, 0.0, -1.0]) / np.linalg.norm([0.5, 0.0, -1.0])
    assert np.allclose(landmark_normals(plane), expected, atol=1e-6)


def test_the_fit_recovers_the_light_and_ignores_the_part_left_out():
    points = hemisphere()
    shape = (256, 256)
    normals = dense_normals(points, shape, ipd=128.0)
    skin = np.abs(normals).sum(axis=2) > 0
    # Lit from above (image y grows downward, so a surface facing up has ny < 0).
    log_luminance = (-50.0 - 30.0 * normals[..., 1]).astype(np.float32)
    patch = np.zeros(shape, bool)
    patch[150:180, 100:150] = True
    log_luminance[patch] -= 20.0  # a real dark patch where the measure looks
    shading = fit_shading(log_luminance, skin, points, 128.0, leave_out=patch)
    assert shading is not None
    assert np.allclose(shading.coefficients, [-50.0, 0.0, -30.0, 0.0], atol=1.0)
    # Inside the patch the model predicts the shape's shading, not the darkening.
    predicted = shading.predicted(patch & skin)
    actual = log_luminance[patch & skin] + 20.0
    assert np.abs(predicted - actual).max() < 1.5


def test_light_from_above_is_taken_out_of_dark_circles(run_analysis, face_model):
    # The same face relit from above through its own shape: the under-eye faces the light
    # more than the cheek band below, so the raw difference falls, and the corrected one,
    # which the score uses, must hold.
    rgb = photo_rgb(BY_NAME["feat_surprise"])
    points = face_model.landmark_sets(rgb)[0]
    ipd = face_frame(points).ipd
    normals = dense_normals(points, (rgb.shape[0], rgb.shape[1]), ipd)
    gain = np.exp(-0.35 * normals[..., 1])[..., None]  # brighter where the skin faces up
    relit = np.clip(rgb.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    before = run_analysis(edits.encode(rgb, "PNG"))["concerns"]["dark_circles"]
    after = run_analysis(edits.encode(relit, "PNG"))["concerns"]["dark_circles"]
    raw_move = abs(after["details"]["delta_l_star"] - before["details"]["delta_l_star"])
    corrected_move = abs(
        after["details"]["corrected_delta_l_star"] - before["details"]["corrected_delta_l_star"]
    )
    assert raw_move > 1.0, raw_move  # the relighting did reach the measure
    assert corrected_move < 0.5 * raw_move, (corrected_move, raw_move)
    assert abs(after["score"] - before["score"]) <= 10.0


def test_a_cheek_lifted_into_the_light_is_not_a_dark_circle(run_analysis, face_model):
    # A smile bulges the cheek just below the under-eye into the light. The under-eye is what
    # it was, so its dark-circle figure must not follow the cheek (it did while the under-eye
    # was compared with that one band: a smiling video frame scored 46 points above the same
    # man's neutral frame).
    rgb = photo_rgb(BY_NAME["feat_surprise"])
    frame = face_frame(face_model.landmark_sets(rgb)[0])
    lifted = edits.lift_cheek_apples(rgb, frame, delta_l=6.0)
    before = run_analysis(edits.encode(rgb, "PNG"))["concerns"]["dark_circles"]
    after = run_analysis(edits.encode(lifted, "PNG"))["concerns"]["dark_circles"]
    raw_move = after["details"]["delta_l_star"] - before["details"]["delta_l_star"]
    assert raw_move > 3.0, raw_move  # the band below the under-eye did get lighter
    assert abs(after["score"] - before["score"]) <= 8.0, (before["score"], after["score"])
