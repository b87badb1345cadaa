"""Colour measurements: redness, tone evenness, skin tone (ITA), dark circles, shine."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from analyzer.pipeline.measure_context import MeasureContext, masked_blur, per_region

# Individual Typology Angle categories (Chardon et al. 1991; Del Bino et al. 2006), degrees.
ITA_CATEGORIES = (
    (55.0, "very light"),
    (41.0, "light"),
    (28.0, "intermediate"),
    (10.0, "tan"),
    (-30.0, "brown"),
    (-math.inf, "dark"),
)


def redness(ctx: MeasureContext) -> dict[str, Any]:
    """Mean CIELAB a* (green-red axis) of the skin, per region; higher = redder."""
    a = ctx.lab[..., 1]
    skin = ctx.regions.skin
    return {"mean_a_star": round(float(a[skin].mean()), 2), "regions": per_region(a, ctx)}


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
    cheeks and forehead. A description of colour, not of any concern."""
    masks = ctx.regions.masks
    area = masks["left_cheek"] | masks["right_cheek"] | masks["forehead"]
    lightness, b = np.median(ctx.lab[area][:, 0]), np.median(ctx.lab[area][:, 2])
    ita = math.degrees(math.atan2(lightness - 50.0, b))
    category = next(name for bound, name in ITA_CATEGORIES if ita > bound)
    return {
        "ita_degrees": round(ita, 1),
        "category": category,
        "median_l_star": round(float(lightness), 1),
        "median_b_star": round(float(b), 1),
    }


def dark_circles(ctx: MeasureContext) -> dict[str, Any]:
    """How much darker the under-eye skin is than the cheek below it: median L*(cheek) - median
    L*(under-eye), per side, in L* units."""
    lightness, masks = ctx.lab[..., 0], ctx.regions.masks
    sides = {}
    for side in ("left", "right"):
        eye, cheek = masks[f"{side}_under_eye"], masks[f"{side}_cheek"]
        if eye.any() and cheek.any():
            sides[side] = round(float(np.median(lightness[cheek]) - np.median(lightness[eye])), 2)
    value = float(np.mean(list(sides.values()))) if sides else 0.0
    return {"delta_l_star": round(value, 2), "sides": sides}


def shine(ctx: MeasureContext) -> dict[str, Any]:
    """Specular highlights in the T-zone (forehead, nose): skin much lighter than its
    neighbourhood (L* above the local mean by 12) and nearly colourless (chroma under 75% of
    the skin's median), as share of the T-zone."""
    lightness, skin = ctx.lab[..., 0], ctx.regions.skin
    chroma = np.hypot(ctx.lab[..., 1], ctx.lab[..., 2])
    local = masked_blur(lightness, skin, 0.15 * ctx.ipd)
    highlight = (lightness - local > 12.0) & (chroma < 0.75 * np.median(chroma[skin])) & skin
    masks = ctx.regions.masks
    t_zone = masks["forehead"] | masks["nose"]
    fraction = float(highlight[t_zone].mean()) if t_zone.any() else 0.0
    return {
        "t_zone_highlight_fraction": round(fraction, 4),
        "regions": per_region(highlight.astype(np.float32), ctx),
    }
