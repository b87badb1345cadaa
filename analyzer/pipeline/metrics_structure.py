"""Structure measurements: spots, acne, pores, texture and wrinkles, each with locations."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from skimage.filters import sato

from analyzer.pipeline.measure_context import MeasureContext, masked_blur, per_region

# Blob sizes as diameters in IPD units: a pigment spot is 1.5-20 mm on a 63 mm IPD face.
SPOT_MIN_DIAMETER, SPOT_MAX_DIAMETER = 0.025, 0.32
SPOT_DELTA_L = 6.0  # darker than the local skin by this many L* units
ACNE_DELTA_A = 6.0  # redder than the local skin by this many a* units
MAX_ELONGATION = 3.0  # longer than wide by more than this: a line (wrinkle, hair), not a blob
PORE_SIGMA = (0.010, 0.030)  # band of the difference of Gaussians, IPD units
PORE_THRESHOLD = 1.5  # L* units darker than the surroundings at pore scale
TEXTURE_SIGMA = (0.008, 0.05)
WRINKLE_SIGMAS = (0.010, 0.018)  # ridge widths searched, IPD units
WRINKLE_THRESHOLD = 1.5  # Sato ridge response (L* units) that counts as a line
WRINKLE_REGIONS = ("forehead", "left_crows_feet", "right_crows_feet", "left_nasolabial",
                   "right_nasolabial", "left_under_eye", "right_under_eye")  # fmt: skip


def _blobs(ctx: MeasureContext, candidate: np.ndarray) -> list[dict[str, Any]]:
    """Connected blobs of the right size and shape, as locations in the original photo."""
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(
        candidate.astype(np.uint8), connectivity=8
    )
    min_area = np.pi * (SPOT_MIN_DIAMETER * ctx.ipd / 2) ** 2
    max_area = np.pi * (SPOT_MAX_DIAMETER * ctx.ipd / 2) ** 2
    found = []
    for index in range(1, count):
        x, y, w, h, area = stats[index]
        if not min_area <= area <= max_area or max(w, h) > MAX_ELONGATION * max(1, min(w, h)):
            continue
        cx, cy = centroids[index]
        diameter = 2 * np.sqrt(area / np.pi)
        found.append({
            "center": ctx.to_original(cx, cy),
            "radius": round(diameter / 2 * ctx.scale, 1),
            "diameter_mm": round(diameter * ctx.mm_per_pixel, 1),
            "region": ctx.region_of(cx, cy),
        })  # fmt: skip
    return found


def spots_and_acne(ctx: MeasureContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """Spots: blobs darker than the local skin (L* below a masked Gaussian background with
    sigma 0.2 IPD) whose redness is not raised. Acne: blobs redder than the local skin (a*
    above its background) — red, raised lesions."""
    skin = ctx.regions.skin
    lightness, a = ctx.lab[..., 0], ctx.lab[..., 1]
    sigma = 0.2 * ctx.ipd
    delta_l = masked_blur(lightness, skin, sigma) - lightness
    delta_a = a - masked_blur(a, skin, sigma)
    eroded = cv2.erode(skin.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    spot_blobs = _blobs(ctx, eroded & (delta_l > SPOT_DELTA_L) & (delta_a < ACNE_DELTA_A))
    acne_blobs = _blobs(ctx, eroded & (delta_a > ACNE_DELTA_A))
    skin_px = max(int(skin.sum()), 1)
    spot_area = sum(np.pi * (b["radius"] / ctx.scale) ** 2 for b in spot_blobs) / skin_px
    return (
        {"count": len(spot_blobs), "area_fraction": round(spot_area, 5), "locations": spot_blobs},
        {"count": len(acne_blobs), "locations": acne_blobs},
    )


def pores(ctx: MeasureContext) -> dict[str, Any]:
    """Pores: local maxima of a difference of Gaussians on L* (a small dark blob detector) with
    sigmas of 1% and 3% of the IPD, deeper than PORE_THRESHOLD, counted per cm^2 of skin on
    cheeks, nose and forehead (sizes from a mean 63 mm IPD)."""
    lightness, masks = ctx.lab[..., 0], ctx.regions.masks
    small, large = (max(0.6, s * ctx.ipd) for s in PORE_SIGMA)
    response = cv2.GaussianBlur(lightness, (0, 0), large) - cv2.GaussianBlur(
        lightness, (0, 0), small
    )
    peaks = (response == cv2.dilate(response, np.ones((3, 3), np.uint8))) & (
        response > PORE_THRESHOLD
    )
    area = masks["left_cheek"] | masks["right_cheek"] | masks["nose"] | masks["forehead"]
    area_cm2 = max(float(area.sum()) * (ctx.mm_per_pixel / 10) ** 2, 1e-6)
    count = int((peaks & area).sum())
    return {
        "count": count,
        "per_cm2": round(count / area_cm2, 2),
        "regions": per_region(peaks.astype(np.float32), ctx, np.sum),
    }


def texture(ctx: MeasureContext) -> dict[str, Any]:
    """Roughness: standard deviation of band-pass filtered L* (difference of Gaussians, 0.8% to
    5% of the IPD) over the skin, in L* units; blur and smooth skin lower it."""
    lightness, skin = ctx.lab[..., 0], ctx.regions.skin
    small, large = (max(0.5, s * ctx.ipd) for s in TEXTURE_SIGMA)
    band = cv2.GaussianBlur(lightness, (0, 0), small) - cv2.GaussianBlur(lightness, (0, 0), large)
    return {
        "band_pass_std": round(float(band[skin].std()), 3),
        "regions": per_region(np.abs(band), ctx),
    }


def wrinkles(ctx: MeasureContext) -> dict[str, Any]:
    """Lines: Sato's tubeness filter for dark ridges on L* (widths 1-1.8% of the IPD) in the
    regions where wrinkles form; the measure is the share of region pixels on a line."""
    lightness, masks = ctx.lab[..., 0], ctx.regions.masks
    sigmas = [max(0.5, s * ctx.ipd) for s in WRINKLE_SIGMAS]
    fractions: dict[str, float] = {}
    line_pixels = total_pixels = 0
    for name in WRINKLE_REGIONS:
        mask = masks[name]
        if not mask.any():
            continue
        ys, xs = np.nonzero(mask)
        pad = int(3 * sigmas[-1]) + 1
        y0, y1 = max(0, ys.min() - pad), min(mask.shape[0], ys.max() + pad + 1)
        x0, x1 = max(0, xs.min() - pad), min(mask.shape[1], xs.max() + pad + 1)
        ridges = sato(lightness[y0:y1, x0:x1], sigmas=sigmas, black_ridges=True)
        on_line = (ridges > WRINKLE_THRESHOLD)[mask[y0:y1, x0:x1]]
        fractions[name] = round(float(on_line.mean()), 4)
        line_pixels += int(on_line.sum())
        total_pixels += on_line.size
    return {"line_fraction": round(line_pixels / max(total_pixels, 1), 4), "regions": fractions}
