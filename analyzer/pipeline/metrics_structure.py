"""Structure measurements: spots, acne, pores, texture and wrinkles, each with locations."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from analyzer.pipeline.measure_context import MeasureContext, masked_blur, per_region, smooth

# Blob sizes as diameters in IPD units (x 63 mm for a typical face): pigment spots 2.5-20 mm,
# inflamed acne lesions (papules, pustules) 2-6 mm.
SPOT_DIAMETERS = (0.04, 0.32)
ACNE_DIAMETERS = (0.03, 0.10)
# Contrasts are in 100 ln units of linear light: 18 = 16% less light reflected than the skin
# around it; 20 = red/green ratio 22% above the skin around it.
SPOT_CONTRAST = 18.0
ACNE_CONTRAST = 20.0
MAX_ELONGATION = 3.0  # longer than wide by more than this: a line (wrinkle, hair), not a blob
PORE_SIGMA = (0.010, 0.030)  # band of the difference of Gaussians, IPD units
PORE_THRESHOLD = 5.0  # darker than the surroundings at pore scale (100 ln units, ~5%)
TEXTURE_SIGMA = (0.008, 0.05)
WRINKLE_SIGMAS = (0.010, 0.018)  # ridge widths searched, IPD units
WRINKLE_THRESHOLD = 5.0  # ridge strength (100 ln units) that counts as a line
WRINKLE_REGIONS = ("forehead", "left_crows_feet", "right_crows_feet", "left_nasolabial",
                   "right_nasolabial", "left_under_eye", "right_under_eye")  # fmt: skip


def scale_space_blobs(
    signal: np.ndarray,
    skin: np.ndarray,
    ipd: float,
    diameters: tuple[float, float],
    min_contrast: float,
) -> list[tuple[float, float, float, float]]:
    """Round blobs of a positive `signal` (darkness or redness against the local skin) as
    (x, y, radius, contrast) in crop pixels: maxima over space and scale of a difference of
    Gaussians (Lindeberg's scale-space blob detector, as in SIFT; scales 1.6x apart so each
    blur serves two levels), at least `min_contrast` strong at their centre, with line-like
    maxima (a crease or a hair) rejected by their Hessian's eigenvalue ratio. Blobs touching
    one another or a line are still found one by one."""
    smallest = max(0.6, diameters[0] / 2 * ipd / np.sqrt(2))
    levels = max(1, int(np.ceil(np.log(diameters[1] / diameters[0]) / np.log(1.6))) + 1)
    sigmas = [smallest * 1.6**k for k in range(levels + 1)]
    blurred = [smooth(signal, sigma) for sigma in sigmas]
    responses = [blurred[k] - blurred[k + 1] for k in range(levels)]
    spatial_max = [cv2.dilate(r, np.ones((3, 3), np.uint8)) for r in responses]
    # A blob counts only when its whole disc is skin: at the edge of the mask (eyes, lips,
    # the region's border) the contrast is an artefact of the edge.
    inside = cv2.distanceTransform(skin.astype(np.uint8), cv2.DIST_L2, 3)
    strong = (signal > min_contrast) & skin
    strong[[0, -1], :] = False
    strong[:, [0, -1]] = False
    # (x, y, radius, response, contrast) of every candidate
    blobs: list[tuple[float, float, float, float, float]] = []
    for k in range(levels):
        neighbours = spatial_max[max(0, k - 1) : k + 2]
        is_max = responses[k] >= np.maximum.reduce(neighbours)
        radius = float(sigmas[k] * np.sqrt(2))
        ys, xs = np.nonzero(is_max & strong & (responses[k] > 0) & (inside >= radius + 1))
        if not len(ys):
            continue
        # Hessian of the smoothed signal at each peak, by central differences.
        blur = blurred[k]
        centre = blur[ys, xs]
        dxx = blur[ys, xs + 1] + blur[ys, xs - 1] - 2 * centre
        dyy = blur[ys + 1, xs] + blur[ys - 1, xs] - 2 * centre
        dxy = (
            blur[ys + 1, xs + 1]
            - blur[ys + 1, xs - 1]
            - blur[ys - 1, xs + 1]
            + blur[ys - 1, xs - 1]
        ) / 4
        determinant, trace = dxx * dyy - dxy**2, dxx + dyy
        limit = (MAX_ELONGATION + 1) ** 2 / MAX_ELONGATION
        round_enough = (determinant > 0) & (trace**2 <= determinant * limit)
        for y, x in zip(ys[round_enough], xs[round_enough], strict=True):
            blobs.append(
                (float(x), float(y), radius, float(responses[k][y, x]), float(signal[y, x]))
            )
    # One blob per place: a weaker blob whose centre lies inside a stronger one is the same.
    kept: list[tuple[float, float, float, float, float]] = []
    for blob in sorted(blobs, key=lambda b: -b[3]):
        if all(np.hypot(blob[0] - k[0], blob[1] - k[1]) > max(blob[2], k[2]) for k in kept):
            kept.append(blob)
    return [(x, y, radius, contrast) for x, y, radius, _, contrast in kept]


def _locations(
    ctx: MeasureContext, blobs: list[tuple[float, float, float]]
) -> list[dict[str, Any]]:
    return [
        {
            "center": ctx.to_original(x, y),
            "radius": round(radius * ctx.scale, 1),
            "diameter_mm": round(2 * radius * ctx.mm_per_pixel, 1),
            "region": ctx.region_of(x, y),
        }
        for x, y, radius in blobs
    ]


def _weight(contrast: float, threshold: float) -> float:
    """How clearly a blob counts: 0 at the threshold, 1 at twice the threshold. Scores sum these
    weights, so a blob hovering at the threshold cannot swing a score on its own."""
    return min(1.0, max(0.0, (contrast - threshold) / threshold))


def spots_and_acne(ctx: MeasureContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """Spots: blobs darker than the local skin (luminance below a masked Gaussian background
    with sigma 0.2 IPD) by SPOT_CONTRAST at their centre, and not redder than it. Acne: blobs
    redder than the local skin (red/green ratio above its background) by ACNE_CONTRAST."""
    skin = ctx.regions.skin
    luminance, red_green = ctx.log_luminance, ctx.log_red_green
    sigma = 0.2 * ctx.ipd
    darker = np.where(skin, masked_blur(luminance, skin, sigma) - luminance, 0).astype(np.float32)
    redder = np.where(skin, red_green - masked_blur(red_green, skin, sigma), 0).astype(np.float32)
    spots = [
        (x, y, r, _weight(contrast, SPOT_CONTRAST))
        for x, y, r, contrast in scale_space_blobs(
            darker, skin, ctx.ipd, SPOT_DIAMETERS, SPOT_CONTRAST
        )
        if redder[int(y), int(x)] < ACNE_CONTRAST
    ]
    acne = [
        (x, y, r, _weight(contrast, ACNE_CONTRAST))
        for x, y, r, contrast in scale_space_blobs(
            redder, skin, ctx.ipd, ACNE_DIAMETERS, ACNE_CONTRAST
        )
    ]
    skin_px = max(int(skin.sum()), 1)
    spot_area = sum(np.pi * r**2 for _, _, r, _ in spots) / skin_px
    spot_summary = {
        "count": len(spots),
        "weighted_count": round(sum(w for *_, w in spots), 2),
        "area_fraction": round(spot_area, 5),
        "locations": _locations(ctx, [(x, y, r) for x, y, r, _ in spots]),
    }
    acne_summary = {
        "count": len(acne),
        "weighted_count": round(sum(w for *_, w in acne), 2),
        "locations": _locations(ctx, [(x, y, r) for x, y, r, _ in acne]),
    }
    return spot_summary, acne_summary


def pores(ctx: MeasureContext) -> dict[str, Any]:
    """Pores: local maxima of a difference of Gaussians on log luminance (a small dark blob
    detector) with sigmas of 1% and 3% of the IPD, deeper than PORE_THRESHOLD, counted per cm^2
    of skin on cheeks, nose and forehead (sizes from a mean 63 mm IPD)."""
    lightness, masks = ctx.log_luminance, ctx.regions.masks
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
    """Roughness: standard deviation of band-pass filtered log luminance (difference of
    Gaussians, 0.8% to 5% of the IPD) over the skin; blur and smooth skin lower it."""
    lightness, skin = ctx.log_luminance, ctx.regions.skin
    small, large = (max(0.5, s * ctx.ipd) for s in TEXTURE_SIGMA)
    band = cv2.GaussianBlur(lightness, (0, 0), small) - cv2.GaussianBlur(lightness, (0, 0), large)
    return {
        "band_pass_std": round(float(band[skin].std()), 3),
        "regions": per_region(np.abs(band), ctx),
    }


def ridge_strength(image: np.ndarray, sigmas: list[float]) -> np.ndarray:
    """Dark-line (valley) strength, Sato et al. 1998: at each scale the larger eigenvalue of the
    Hessian of the Gaussian-smoothed image, kept where positive (a valley across the line),
    scale-normalised by sigma^2; the strongest scale wins."""
    strength = np.zeros_like(image)
    for sigma in sigmas:
        smoothed = cv2.GaussianBlur(image, (0, 0), sigma)
        # Sobel's 3x3 second-derivative kernels weigh 4 rows; /4 gives the plain derivative.
        dxx = cv2.Sobel(smoothed, cv2.CV_32F, 2, 0, ksize=3) / 4
        dyy = cv2.Sobel(smoothed, cv2.CV_32F, 0, 2, ksize=3) / 4
        dxy = cv2.Sobel(smoothed, cv2.CV_32F, 1, 1, ksize=3) / 4
        larger = (dxx + dyy) / 2 + np.sqrt(((dxx - dyy) / 2) ** 2 + dxy**2)
        strength = np.maximum(strength, sigma**2 * np.maximum(larger, 0))
    return strength


def wrinkles(ctx: MeasureContext) -> dict[str, Any]:
    """Lines: a Hessian ridge filter (ridge_strength) for dark lines on log luminance (widths
    1-1.8% of the IPD) in the regions where wrinkles form; the measure is the share of region
    pixels on a line."""
    lightness, masks = ctx.log_luminance, ctx.regions.masks
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
        ridges = ridge_strength(lightness[y0:y1, x0:x1], sigmas)
        on_line = (ridges > WRINKLE_THRESHOLD)[mask[y0:y1, x0:x1]]
        fractions[name] = round(float(on_line.mean()), 4)
        line_pixels += int(on_line.sum())
        total_pixels += on_line.size
    return {"line_fraction": round(line_pixels / max(total_pixels, 1), 4), "regions": fractions}
