"""Structure measurements: spots, acne, pores, texture and wrinkles, each with locations."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from analyzer.pipeline.measure_context import MeasureContext, masked_blur, per_region, smooth

# Blob sizes as diameters in IPD units (x 63 mm for a typical face): pigment spots 2.5-20 mm,
# inflamed acne lesions (papules, pustules) 2-6 mm.
SPOT_DIAMETERS = (0.04, 0.32)
ACNE_DIAMETERS = (0.03, 0.10)
# Contrasts are in 100 ln units of linear light, as the blob's mean over its core: 18 = 16 % less
# light reflected than the skin around it (about 4 L* on light skin); 8 = a red/green ratio 8 %
# above the skin around it (about a* +3).
SPOT_CONTRAST = 18.0
ACNE_CONTRAST = 8.0
# Constant false-alarm rate: a blob must also stand this many robust standard deviations above
# the same filter's response over the face's skin, so a noisy or blocky photo raises its own
# threshold instead of turning grain into lesions.
# Chroma is noisier than luma (4:2:0 subsampling halves its resolution, and JPEG quantises it
# harder), so the red detector asks for more.
SPOT_CFAR_SIGMAS = 3.0
ACNE_CFAR_SIGMAS = 4.5
# Candidates from this share of both thresholds up add to the weighted count (_weight); only
# those past the thresholds are listed as findings.
SOFT_FLOOR = 0.5
# The robust spread is estimated on every fourth skin pixel: the same figure, a quarter the work.
MAD_STRIDE = 4
# A blob is acne only when, against the local skin in CIELAB, a* rises at least ACNE_MIN_A_RISE,
# more than b* (red, not brown or yellow), and at least ACNE_A_PER_L times the fall of L*
# (a papule is mostly redder, a pigment spot mostly darker); otherwise a dark blob is a spot.
ACNE_MIN_A_RISE = 3.0
ACNE_A_PER_L = 0.5
# The naming is soft over this many a* units either side of each rule's edge: a lesion whose
# colour sits on an edge counts half as acne and half as a spot, so a re-encode that nudges its
# a* moves the scores a little instead of moving a whole lesion from one concern to the other.
ACNE_COLOUR_SOFTNESS = 1.5
BACKGROUND_SIGMA = 0.2  # IPD: the local skin a blob is compared with
# A blob counts fully only this many radii (plus a pixel) inside the skin mask's edge.
EDGE_FADE_RADII = 2.0
MAX_ELONGATION = 3.0  # longer than wide by more than this: a line (wrinkle, hair), not a blob
PORE_SIGMA = (0.010, 0.030)  # band of the difference of Gaussians, IPD units
PORE_THRESHOLD = 5.0  # darker than the surroundings at pore scale (100 ln units, ~5%)
TEXTURE_SIGMA = (0.008, 0.05)
WRINKLE_SIGMAS = (0.010, 0.018)  # ridge widths searched, IPD units
WRINKLE_THRESHOLD = 5.0  # ridge strength (100 ln units) that counts as a line
WRINKLE_REGIONS = ("forehead", "left_crows_feet", "right_crows_feet", "left_nasolabial",
                   "right_nasolabial", "left_under_eye", "right_under_eye")  # fmt: skip


@dataclass(frozen=True)
class Blob:
    x: float
    y: float
    radius: float
    contrast: float  # its core against its surround, in the signal's units
    # The lesser of contrast / its threshold and response / the noise-aware threshold: at 1 or
    # more the blob is a finding; from SOFT_FLOOR up it adds a little to the weighted count.
    strength: float = 2.0

    @property
    def found(self) -> bool:
        return self.strength >= 1.0


def scale_space_blobs(
    signal: np.ndarray,
    skin: np.ndarray,
    ipd: float,
    diameters: tuple[float, float],
    min_contrast: float,
    cfar_sigmas: float,
    finest_radius: float = 0.0,
) -> list[Blob]:
    """Round blobs of a positive `signal` (darkness or redness against the local skin): maxima
    over space and scale of a difference of Gaussians (Lindeberg's scale-space blob detector, as
    in SIFT; scales 1.6x apart so each blur serves two levels). A blob's contrast is its core
    (the signal blurred at its own scale, which also averages the noise away) against its own
    surround (the skin's masked blur at three times that scale), so shading across the face,
    a smile fold or a highlight, does not hide a spot or make one; it must reach `min_contrast`,
    and its band-pass response `cfar_sigmas` robust deviations of that response over the skin.
    Line-like maxima (a crease, a hair) are rejected by their Hessian's eigenvalue ratio.
    `finest_radius` (px) is the finest blob the photo can show in this signal."""
    smallest = max(0.6, diameters[0] / 2 * ipd / np.sqrt(2), finest_radius / np.sqrt(2))
    levels = max(1, int(np.ceil(np.log(diameters[1] / diameters[0]) / np.log(1.6))) + 1)
    sigmas = [smallest * 1.6**k for k in range(levels + 1)]
    blurred = [smooth(signal, sigma) for sigma in sigmas]
    responses = [blurred[k] - blurred[k + 1] for k in range(levels)]
    spatial_max = [cv2.dilate(r, np.ones((3, 3), np.uint8)) for r in responses]
    # A blob counts only when its whole disc is skin: at the edge of the mask (eyes, lips,
    # the region's border) the contrast is an artefact of the edge.
    inside = cv2.distanceTransform(skin.astype(np.uint8), cv2.DIST_L2, 3)
    border = np.zeros_like(skin)
    border[1:-1, 1:-1] = True
    candidates: list[tuple[Blob, float]] = []
    # The signal (zero off the skin) and the skin's weight, blurred together in one pass.
    weighted = np.dstack([np.where(skin, signal, 0), skin]).astype(np.float32)
    sample = np.flatnonzero(skin)[::MAD_STRIDE]
    for k in range(levels):
        # A disc of radius sigma*sqrt(2) on flat skin: its blur at sigma keeps 63 % of its
        # contrast at the centre, the surround's blur at 3 sigma 10.5 %; their difference is
        # 52.5 % of the contrast.
        # (A broad average, so it is computed on a copy shrunk a step further.)
        both = smooth(weighted, 3 * sigmas[k], sigmas_per_step=2.0)
        surround = both[..., 0] / np.maximum(both[..., 1], 1e-6)
        core = (blurred[k] - surround) / 0.525
        # The band-pass response's robust spread over the skin: grain, JPEG blocks and the
        # skin's own fine texture at this scale, without the face's shading.
        values = responses[k].reshape(-1)[sample]
        spread = 1.4826 * float(np.median(np.abs(values - np.median(values))))
        noise_floor = max(cfar_sigmas * spread, 1e-6)
        radius = float(sigmas[k] * np.sqrt(2))
        # Near the mask's edge a blob fades out instead of stopping at a line: there a shadow
        # of the eye, the nostril or the jaw is cut by the edge, and a landmark that moves by a
        # pixel must not turn it into a whole lesion.
        edge = np.clip((inside - radius) / (EDGE_FADE_RADII * radius + 1.0), 0.0, 1.0)
        strength = np.minimum(core / min_contrast, responses[k] / noise_floor) * edge
        strong = strength >= SOFT_FLOOR
        neighbours = spatial_max[max(0, k - 1) : k + 2]
        is_max = responses[k] >= np.maximum.reduce(neighbours)
        ys, xs = np.nonzero(is_max & strong & (inside >= radius + 1) & border)
        if not len(ys):
            continue
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
            blob = Blob(float(x), float(y), radius, float(core[y, x]), float(strength[y, x]))
            candidates.append((blob, float(responses[k][y, x])))
    # One blob per place: a weaker blob whose centre lies inside a stronger one is the same.
    kept: list[Blob] = []
    for blob, _ in sorted(candidates, key=lambda c: -c[1]):
        if all(np.hypot(blob.x - k.x, blob.y - k.y) > max(blob.radius, k.radius) for k in kept):
            kept.append(blob)
    return kept


def _locations(ctx: MeasureContext, blobs: list[Blob]) -> list[dict[str, Any]]:
    return [
        {
            "center": ctx.to_original(blob.x, blob.y),
            "radius": round(blob.radius * ctx.face.source_ipd_px / ctx.ipd, 1),
            "diameter_mm": round(2 * blob.radius * ctx.mm_per_pixel, 1),
            "region": ctx.region_of(blob.x, blob.y),
        }
        for blob in blobs
    ]


def _weight(blob: Blob) -> float:
    """How clearly a blob counts: 0 at SOFT_FLOOR of its thresholds (its contrast, and its
    response against the photo's noise), rising as the square to 1 at twice them (0.08 at the
    thresholds). Scores sum these weights, so a blob near a threshold, which grain or a
    re-encode can tip either way, moves a score a little instead of a whole lesion's worth, and
    skin with faint marks below the thresholds scores a little above skin with none."""
    return min(1.0, max(0.0, (blob.strength - SOFT_FLOOR) / (2.0 - SOFT_FLOOR)) ** 2)


def _lab_rise(ctx: MeasureContext, blob: Blob) -> np.ndarray:
    """The blob core's mean CIELAB minus its surround's median (dL*, da*, db*): the core is
    the disc of 0.7 radius, the surround the skin in the ring from 1.5 to 3 radii."""
    reach = int(np.ceil(3 * blob.radius)) + 1
    x, y = round(blob.x), round(blob.y)
    y0, x0 = max(0, y - reach), max(0, x - reach)
    window = ctx.lab[y0 : y + reach + 1, x0 : x + reach + 1]
    skin = ctx.regions.skin[y0 : y + reach + 1, x0 : x + reach + 1]
    yy, xx = np.mgrid[: window.shape[0], : window.shape[1]]
    distance = np.hypot(yy + y0 - blob.y, xx + x0 - blob.x)
    core = window[distance <= max(1.0, 0.7 * blob.radius)]
    ring = window[(distance >= 1.5 * blob.radius) & (distance <= 3 * blob.radius) & skin]
    if len(ring) < 4:
        return np.zeros(3)
    return core.mean(axis=0) - np.median(ring, axis=0)


def spots_and_acne(ctx: MeasureContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """Blobs darker than the local skin (a masked Gaussian background, sigma 0.2 IPD) and blobs
    redder than it (erythema index above its background), each found at its own scale with a
    noise-aware threshold; then each is named by its colour against the local skin in CIELAB:
    redder than yellower (a* rise >= ACNE_MIN_A_RISE and > the b* rise) is acne, a dark blob
    that is not is a pigment spot. A brown spot therefore stays a spot however dark it is."""
    # Only the skin's bounding box is searched (plus a margin that the zero signal outside the
    # skin fills anyway): the canonical crop's rim holds no skin.
    rows, cols = np.nonzero(ctx.regions.skin)
    if not len(rows):
        return _blob_summary(ctx, [], 1), _blob_summary(ctx, [], 1, spots=False)
    margin = 2
    y0, x0 = max(0, int(rows.min()) - margin), max(0, int(cols.min()) - margin)
    y1, x1 = int(rows.max()) + margin + 1, int(cols.max()) + margin + 1
    box = (slice(y0, y1), slice(x0, x1))
    skin, colour = ctx.regions.skin[box], ctx.colour_skin[box]
    sigma = BACKGROUND_SIGMA * ctx.ipd
    luminance, erythema = ctx.log_luminance[box], ctx.erythema[box]
    darker = np.where(skin, masked_blur(luminance, skin, sigma) - luminance, 0).astype(np.float32)
    redder = np.where(colour, erythema - masked_blur(erythema, colour, sigma), 0).astype(np.float32)

    def shifted(blobs: list[Blob]) -> list[Blob]:
        return [replace(b, x=b.x + x0, y=b.y + y0) for b in blobs]

    def redness(blob: Blob) -> float:
        """How far the blob's colour is acne's (1) rather than a spot's (0); 0.5 on an edge."""
        dl, da, db = _lab_rise(ctx, blob)
        margins = (da - ACNE_MIN_A_RISE, da - db, da - ACNE_A_PER_L * -dl)
        return float(np.clip(0.5 + min(margins) / (2 * ACNE_COLOUR_SOFTNESS), 0.0, 1.0))

    def same_place(a: Blob, b: Blob) -> bool:
        return bool(np.hypot(a.x - b.x, a.y - b.y) <= max(a.radius, b.radius))

    dark = shifted(
        scale_space_blobs(darker, skin, ctx.ipd, SPOT_DIAMETERS, SPOT_CONTRAST, SPOT_CFAR_SIGMAS)
    )
    # Cameras and JPEG keep colour at half the resolution of lightness (4:2:0): one colour
    # sample covers two photo pixels, so redness finer than that is block and ringing noise.
    chroma_pixel = 2.0 * ctx.ipd / ctx.face.source_ipd_px
    red = shifted(scale_space_blobs(
        redder, colour, ctx.ipd, ACNE_DIAMETERS, ACNE_CONTRAST, ACNE_CFAR_SIGMAS,
        finest_radius=chroma_pixel,
    ))  # fmt: skip
    # A lesion found by both detectors is one lesion, named once by the colour measured on
    # its dark detection (which of the two passed its threshold is no evidence of colour),
    # and counted with the stronger of the two.
    spots: list[tuple[Blob, float]] = []
    acne: list[tuple[Blob, float]] = []
    paired: set[int] = set()
    for blob in dark:
        share = redness(blob)
        twin = next((i for i, r in enumerate(red) if same_place(blob, r)), None)
        if twin is not None:
            paired.add(twin)
            blob = max(blob, red[twin], key=lambda b: b.strength)
        spots.append((blob, 1.0 - share))
        acne.append((blob, share))
    acne += [(blob, redness(blob)) for i, blob in enumerate(red) if i not in paired]
    skin_px = max(np.count_nonzero(skin), 1)
    return _blob_summary(ctx, spots, skin_px), _blob_summary(ctx, acne, skin_px, spots=False)


def _blob_summary(
    ctx: MeasureContext, named: list[tuple[Blob, float]], skin_px: int, spots: bool = True
) -> dict[str, Any]:
    """`named` pairs each candidate with the share of it that is this concern's. Findings
    (past both thresholds, more this concern's than the other's) are counted and located;
    every candidate adds its weight times its share to the weighted count."""
    # On the edge (0.5) a lesion is listed once, as a spot.
    found = [b for b, share in named if b.found and (share >= 0.5 if spots else share > 0.5)]
    summary: dict[str, Any] = {
        "count": len(found),
        "weighted_count": round(sum(_weight(b) * share for b, share in named), 2),
    }
    if spots:
        summary["area_fraction"] = round(sum(np.pi * b.radius**2 for b in found) / skin_px, 5)
    summary["locations"] = _locations(ctx, found)
    return summary


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
    area_cm2 = max(np.count_nonzero(area) * (ctx.mm_per_pixel / 10) ** 2, 1e-6)
    count = np.count_nonzero(peaks & area)
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
        mask, indices = masks[name], ctx.regions.indices[name]
        if not len(indices):
            continue
        ys, xs = np.divmod(indices, mask.shape[1])
        pad = int(3 * sigmas[-1]) + 1
        y0, y1 = max(0, ys.min() - pad), min(mask.shape[0], ys.max() + pad + 1)
        x0, x1 = max(0, xs.min() - pad), min(mask.shape[1], xs.max() + pad + 1)
        ridges = ridge_strength(lightness[y0:y1, x0:x1], sigmas)
        on_line = (ridges > WRINKLE_THRESHOLD)[mask[y0:y1, x0:x1]]
        fractions[name] = round(float(on_line.mean()), 4)
        line_pixels += np.count_nonzero(on_line)
        total_pixels += on_line.size
    return {"line_fraction": round(line_pixels / max(total_pixels, 1), 4), "regions": fractions}
