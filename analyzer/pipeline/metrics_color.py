"""Colour measurements: redness, tone evenness, skin tone (ITA), dark circles, shine."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from analyzer.pipeline.color_reference import ColourReference
from analyzer.pipeline.limits import QUALITY_LIMITS
from analyzer.pipeline.measure_context import MeasureContext, masked_blur, per_region, smooth
from analyzer.pipeline.shading import fit_shading

# Individual Typology Angle categories (Chardon et al. 1991; Del Bino et al. 2006), degrees.
ITA_CATEGORIES = (
    (55.0, "very light"),
    (41.0, "light"),
    (28.0, "intermediate"),
    (10.0, "tan"),
    (-30.0, "brown"),
    (-math.inf, "dark"),
)
# Redness: EI smoothed over 1 % of the IPD (~0.6 mm), against the face's 20th percentile.
REDNESS_SMOOTHING = 0.01
REDNESS_BASELINE_PERCENTILE = 20.0
# The light's side-to-side EI gradient: a robust straight fit (passes, trim in robust sigmas).
GRADIENT_FIT_PASSES = 3
GRADIENT_TRIM_DEVIATIONS = 2.5
# Shine: a pixel is a highlight to the degree it is lighter than its neighbourhood (from 10 to
# 30 in 100 ln luminance, ~4 to 12 L* on light skin) and less red (erythema index 2 to 8 below).
SHINE_NEIGHBOURHOOD = 0.15
SHINE_LIGHTER = (10.0, 30.0)
SHINE_PALER = (2.0, 8.0)
# Dark circles: the under-eye band (u, v in IPD units; left side, mirrored for the right) and the
# cheek band just below it that serves as the reference.
UNDER_EYE_U = (0.22, 0.70)
UNDER_EYE_V = (0.14, 0.30)
CHEEK_BAND_V = (0.40, 0.55)


def redness(ctx: MeasureContext) -> dict[str, Any]:
    """Redness against the face's own skin: the erythema index EI = 100 ln(R/G) in linear light
    (Yamamoto et al. 2008), lightly smoothed against pixel noise, minus the face's baseline (its
    20th percentile over all skin). A white-balance or exposure change adds the same constant to
    every pixel's EI, so the excess does not see it; a skin tone is the baseline, not redness.

    Two lights of different colour, one from each side (a window and a lamp), add a gradient of
    EI across the face that is not in the skin: it is fitted as a straight slope from one side
    of the face to the other and taken out. The slope is fitted on the skin outside the cheeks
    and nasolabial folds (forehead, temples, nose, under-eyes, chin), robustly, so a flush on
    one cheek, the commonest one-sided redness, stays redness. Only the side-to-side slope:
    the face's own redness is much the same on both sides, but not from brow to chin (cheeks
    and nose are redder than the forehead).

    The measure is the mean positive excess over the skin. Per region: the median excess, and
    the median CIELAB a* of the photo as taken."""
    skin = ctx.colour_skin
    erythema = smooth(ctx.erythema, REDNESS_SMOOTHING * ctx.ipd)
    masks = ctx.regions.masks
    flush = (
        masks["left_cheek"]
        | masks["right_cheek"]
        | masks["left_nasolabial"]
        | masks["right_nasolabial"]
    )
    u, _ = ctx.regions.frame.pixel_uv(erythema.shape)
    slope = _side_to_side_slope(erythema, u, skin & ~flush)
    erythema = erythema - slope * u
    baseline = float(np.percentile(erythema[skin], REDNESS_BASELINE_PERCENTILE))
    excess = erythema - baseline
    return {
        "erythema_excess": round(float(np.maximum(excess[skin], 0).mean()), 2),
        "baseline_erythema_index": round(baseline, 1),
        "light_gradient": round(slope, 1),
        "median_a_star": round(float(np.median(ctx.lab[..., 1][skin])), 2),
        "excess_regions": per_region(excess, ctx, np.median, within=skin),
        "regions": per_region(ctx.lab[..., 1], ctx, np.median, within=skin),
    }


def _side_to_side_slope(values: np.ndarray, u: np.ndarray, skin: np.ndarray) -> float:
    """The slope (units per IPD along the eye line, `u`) of a straight fit to `values` over
    `skin`, refitted twice without the pixels past 2.5 robust deviations (a red patch, a
    highlight)."""
    if np.count_nonzero(skin) < 50:
        return 0.0
    along = u[skin].astype(np.float64)
    design = np.column_stack([np.ones_like(along), along])
    observed = values[skin].astype(np.float64)
    keep = np.ones(len(observed), bool)
    coefficients = np.zeros(2)
    for _ in range(GRADIENT_FIT_PASSES):
        coefficients, *_ = np.linalg.lstsq(design[keep], observed[keep], rcond=None)
        residuals = observed - design @ coefficients
        spread = 1.4826 * float(np.median(np.abs(residuals[keep])))
        keep = np.abs(residuals) <= GRADIENT_TRIM_DEVIATIONS * max(spread, 1e-6)
    return float(coefficients[1])


def tone_evenness(ctx: MeasureContext) -> dict[str, Any]:
    """Unevenness: standard deviation of log luminance at blotch scale (between 5% and 50% of
    the IPD), i.e. after removing pore-level detail and the photo's large-scale shading."""
    lightness, skin = ctx.log_luminance, ctx.regions.skin
    fine = masked_blur(lightness, skin, 0.05 * ctx.ipd)
    detail = fine - masked_blur(lightness, skin, 0.5 * ctx.ipd)
    return {
        "blotch_std": round(float(detail[skin].std()), 3),
        "regions": per_region(np.abs(detail), ctx),
    }


def skin_tone(ctx: MeasureContext) -> dict[str, Any]:
    """Individual Typology Angle: ITA = atan((L* - 50) / b*) in degrees, on the median colour of
    cheeks and forehead after the colour correction. A description of colour, not of any
    concern. b* is corrected to the sclera's white where enough of it shows (`reference`);
    L* is the photo's own, since the sclera's lightness depends on the eyelids' shade too much
    to correct exposure with, so the angle still follows a strong exposure error.

    `confidence` says whether the category can be trusted: only where the light's colour was
    corrected from the whites of the eyes, and those whites are not dim (a dim white means
    the exposure, not only the skin, sets L*: a dim room reads light skin as brown)."""
    masks = ctx.regions.masks
    area = masks["left_cheek"] | masks["right_cheek"] | masks["forehead"]
    lab = ctx.corrected_lab[area]
    lightness, b = np.median(lab[:, 0]), np.median(lab[:, 2])
    ita = math.degrees(math.atan2(lightness - 50.0, b))
    category = next(name for bound, name in ITA_CATEGORIES if ita > bound)
    return {
        "ita_degrees": round(ita, 1),
        "category": category,
        "median_l_star": round(float(lightness), 1),
        "median_b_star": round(float(b), 1),
        "reference": ctx.reference.kind,
        **_tone_confidence(ctx.reference),
    }


def with_band(tone: dict[str, Any], margin: float) -> dict[str, Any]:
    """The skin tone with its band: `ita_interval` is ITA +- `margin` (degrees, fitted like the
    scores' margins on real re-captures, calibration/fit_margins.py), `categories` every
    category the band reaches, lightest first. A photo's exposure sets L* as much as the skin
    does, and no reference in an everyday photo says how bright the light was, so one person's
    photos land up to two categories apart; the category is only called confident where the
    whole band lies in it."""
    ita = float(tone["ita_degrees"])
    low, high = ita - margin, ita + margin
    uppers = (math.inf, *(bound for bound, _ in ITA_CATEGORIES[:-1]))
    reached = [
        name
        for (bound, name), upper in zip(ITA_CATEGORIES, uppers, strict=True)
        if high > bound and low <= upper
    ]
    banded = {
        **tone,
        "margin": round(margin, 1),
        "ita_interval": [round(low, 1), round(high, 1)],
        "categories": reached,
    }
    if tone["confidence"] == "high" and len(reached) > 1:
        banded["confidence"] = "low"
        banded["confidence_reason"] = {
            "code": "BETWEEN_CATEGORIES",
            "message": f"another photo of this face could measure anywhere from {low:.0f} to"
            f" {high:.0f} degrees ({reached[0]} to {reached[-1]}): the photo's exposure sets"
            " the lightness as much as the skin does",
        }
    return banded


def _tone_confidence(reference: ColourReference) -> dict[str, Any]:
    reason: dict[str, str] | None = None
    white = reference.sclera_luminance
    if reference.kind != "sclera":
        reason = {
            "code": "NO_WHITE_REFERENCE",
            "message": "no white of the eyes could be read (closed eyes, glasses, a small face"
            " or strongly coloured light), so the light's colour was not corrected and the"
            " category may follow the room rather than the skin",
        }
    elif white is not None and white < QUALITY_LIMITS.min_sclera_luminance:
        reason = {
            "code": "DIM_LIGHT",
            "message": f"the whites of the eyes are dim ({white:.0%} of full light), so the"
            " photo's exposure sets the lightness as much as the skin does",
        }
    return {"confidence": "low" if reason else "high", "confidence_reason": reason}


# Dark circles are scored as the L* difference their luminance ratio makes on skin of this L*
# (a light skin's): the same shadow or pigment is fewer L* on a darker skin, since L* + 16
# scales with the cube root of reflectance; the ratio does not.
DARK_CIRCLE_REFERENCE_L = 65.0


def _as_reference_l(log_ratio: float) -> float:
    """A luminance ratio (100 ln units, band over under-eye) as the L* difference it makes on
    skin of DARK_CIRCLE_REFERENCE_L: L* + 16 goes with the cube root of luminance."""
    return (DARK_CIRCLE_REFERENCE_L + 16.0) * (1.0 - math.exp(-log_ratio / 300.0))


def dark_circles(ctx: MeasureContext) -> dict[str, Any]:
    """How much darker the under-eye is than the rest of the face's skin would be there, per
    side. `delta_l_star` is the plain difference: median L* of the cheek band just below the
    under-eye minus median L* of the under-eye. The a* and b* differences (under-eye minus band)
    tell a brown (b* up) from a bluish-purple (b* down) kind.

    The score's figure, `corrected_delta_l_star`, compares the under-eye with the whole face
    rather than with the one band below it: the face's shading in this photo's light is fitted
    on all skin but the under-eyes (analyzer/pipeline/shading.py), and the figure is how far
    the under-eye's luminance falls below that fit, less how far the rest of the skin does,
    restated as L* on a skin of L* 65. So neither the light's direction nor the skin's tone
    moves it, a stage light from above does not read as dark circles, and a smile that lifts
    the cheek below into the light does not either (one band is one expression's bulge; the
    whole face is not). `shading_delta_l_star` is what the fit expected of band over under-eye
    (negative where the shape should have made the under-eye the lighter)."""
    lab, regions = ctx.lab, ctx.regions
    boxes = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        u0, u1 = UNDER_EYE_U
        eye = regions.box_mask(_mirror((u0, u1, *UNDER_EYE_V), sign))
        band = regions.box_mask(_mirror((u0, u1, *CHEEK_BAND_V), sign))
        if np.count_nonzero(eye) >= 20 and np.count_nonzero(band) >= 20:
            boxes[side] = (eye, band)
    leave_out = np.zeros(regions.skin.shape, bool)
    for eye, _ in boxes.values():
        leave_out |= eye
    shading = fit_shading(ctx.log_luminance, regions.skin, ctx.face.landmarks, ctx.ipd, leave_out)
    face_residual = 0.0
    rest = regions.skin & ~leave_out
    if shading is not None and rest.any():
        face_residual = float(np.median(ctx.log_luminance[rest] - shading.predicted(rest)))
    sides: dict[str, dict[str, float]] = {}
    for side, (eye, band) in boxes.items():
        under, below = np.median(lab[eye], axis=0), np.median(lab[band], axis=0)
        if shading is not None:
            eye_residual = float(np.median(ctx.log_luminance[eye] - shading.predicted(eye)))
            below_the_face = face_residual - eye_residual
            expected = float(np.median(shading.predicted(band)) - np.median(shading.predicted(eye)))
        else:
            below_the_face = float(
                np.median(ctx.log_luminance[band]) - np.median(ctx.log_luminance[eye])
            )
            expected = 0.0
        sides[side] = {
            "delta_l_star": round(float(below[0] - under[0]), 2),
            "shading_delta_l_star": round(_as_reference_l(expected), 2),
            "corrected_delta_l_star": round(_as_reference_l(below_the_face), 2),
            "delta_a_star": round(float(under[1] - below[1]), 2),
            "delta_b_star": round(float(under[2] - below[2]), 2),
        }

    def mean(key: str) -> float:
        return round(float(np.mean([s[key] for s in sides.values()])), 2) if sides else 0.0

    delta_b = mean("delta_b_star")
    return {
        "delta_l_star": mean("delta_l_star"),
        "shading_delta_l_star": mean("shading_delta_l_star"),
        "corrected_delta_l_star": mean("corrected_delta_l_star"),
        "delta_a_star": mean("delta_a_star"),
        "delta_b_star": delta_b,
        "kind": "brown" if delta_b > 1.0 else "bluish" if delta_b < -1.0 else "shadow",
        "sides": sides,
    }


def _mirror(
    box: tuple[float, float, float, float], sign: float
) -> tuple[float, float, float, float]:
    u0, u1, v0, v1 = box
    return (u0, u1, v0, v1) if sign > 0 else (-u1, -u0, v0, v1)


def shine(ctx: MeasureContext) -> dict[str, Any]:
    """Specular highlights in the T-zone (forehead, nose): skin lighter than its neighbourhood
    and less red than it, since a specular reflection adds the light's own colour to the skin's
    (the dichromatic reflection model). Both are log ratios in linear light (luminance and the
    erythema index against their local mean, sigma 0.15 IPD), so exposure and white balance
    cancel. A pixel's highlight degree ramps from 0 to 1 over SHINE_LIGHTER and SHINE_PALER
    (blown pixels count as pale); the measure is its mean over the T-zone, a soft share that a
    pixel crossing a threshold cannot jump."""
    skin = ctx.regions.skin
    sigma = SHINE_NEIGHBOURHOOD * ctx.ipd
    lighter = _ramp(ctx.log_luminance - masked_blur(ctx.log_luminance, skin, sigma), *SHINE_LIGHTER)
    less_red = masked_blur(ctx.erythema, skin, sigma) - ctx.erythema
    paler = np.where(ctx.colour_skin, _ramp(less_red, *SHINE_PALER), 1.0)
    highlight = np.where(skin, lighter * paler, 0.0).astype(np.float32)
    masks = ctx.regions.masks
    t_zone = masks["forehead"] | masks["nose"]
    fraction = float(highlight[t_zone].mean()) if t_zone.any() else 0.0
    return {
        "t_zone_highlight_fraction": round(fraction, 5),
        "regions": per_region(highlight, ctx),
    }


def _ramp(values: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 below start, 1 above end, linear between."""
    return np.clip((values - start) / (end - start), 0.0, 1.0)
