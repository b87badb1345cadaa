"""`python -m calibration.fit_margins`: fits the score margins (analyzer/pipeline/margins.py) on
the tuning half of the calibration set and writes analyzer/pipeline/margin_model.json.

For a choice of weights, each concern's base is the larger of two 90th percentiles of move /
widening over the tuning half: one over the camera edits, one over a person's other real photos,
so 90 % of each kind fall inside by construction (the real re-captures are few, but they are
what a re-take really is, and pooled with the edits they would be outvoted). The weights are
those that make the bands narrowest on average (coordinate search over a small grid). The other
half is not read here: `make validate` checks the stored model on it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from analyzer.pipeline.margins import ITA_MARGIN, MarginModel
from calibration.margin_data import Observation, condition_of, measure, observations
from calibration.sources import portraits
from calibration.validate import Analyzer
from skin.intake import CONCERNS

MODEL_FILE = Path(__file__).resolve().parent.parent / "analyzer" / "pipeline" / "margin_model.json"
COVERAGE = 0.90
FLOOR = 2.0  # score points: scores are rounded to 0.1 and re-takes never agree closer than this
# Past 8 the fit only trades the bases' scale against the weights' (base -> 0).
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
PASSES = 3


def fit(found: list[Observation], coverage: float = COVERAGE) -> MarginModel:
    """The concerns' scores choose the weights; the skin tone's angle (in degrees, another
    scale) then gets its base under those weights."""
    model = _fit_scores([o for o in found if o.concern in CONCERNS], coverage)
    tone = [o for o in found if o.concern == ITA_MARGIN]
    if tone:
        ratios = np.array([o.move / model.widening(condition_of(o.photo)) for o in tone])
        kinds = np.array([o.kind == "re-capture" for o in tone])
        model.base[ITA_MARGIN] = max(
            float(np.quantile(ratios[kinds == k], coverage, method="higher"))
            for k in (True, False)
            if (kinds == k).any()
        )
    return model


def _fit_scores(found: list[Observation], coverage: float) -> MarginModel:
    factors = sorted(condition_of(found[0].photo))
    conditions = np.array([[condition_of(o.photo)[f] for f in factors] for o in found])
    moves = np.array([o.move for o in found])
    concern_of = np.array([o.concern for o in found])
    recaptured = np.array([o.kind == "re-capture" for o in found])

    def model_for(weights: np.ndarray) -> tuple[MarginModel, float]:
        widening = 1.0 + conditions @ weights
        ratios = moves / widening
        base = {}
        for c in CONCERNS:
            own = concern_of == c
            # Each kind of re-take held on its own: the edits, and the real re-captures.
            base[c] = max(
                float(np.quantile(ratios[own & kind], coverage, method="higher"))
                for kind in (recaptured, ~recaptured)
                if (own & kind).any()
            )
        model = MarginModel(FLOOR, base, dict(zip(factors, map(float, weights), strict=True)))
        margins = np.maximum(FLOOR, np.array([base[c] for c in concern_of]) * widening)
        return model, float(margins.mean())

    weights = np.zeros(len(factors))
    best, cost = model_for(weights)
    for _ in range(PASSES):
        for i in range(len(factors)):
            for value in WEIGHT_GRID:
                trial = weights.copy()
                trial[i] = value
                model, trial_cost = model_for(trial)
                if trial_cost < cost - 1e-9:
                    weights, best, cost = trial, model, trial_cost
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    args = parser.parse_args()
    tuning = [s for s in portraits() if s.half == "tune"]
    found = observations(measure(tuning, Analyzer().accepted))
    model = fit(found)
    print(f"fitted on {len(tuning)} photos, {len(found)} observations, coverage {COVERAGE:.0%}")
    print("weights: " + ", ".join(f"{k} {v:g}" for k, v in model.weights.items()))
    for quantity in model.base:
        print(f"  {quantity:16s} base {model.base[quantity]:5.1f}")
    if not args.dry_run:
        MODEL_FILE.write_text(
            json.dumps(
                {
                    "fitted_on": sorted(s.name for s in tuning),
                    "observations": len(found),
                    "coverage": COVERAGE,
                    "floor": model.floor,
                    "base": {c: round(v, 2) for c, v in model.base.items()},
                    "weights": model.weights,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"wrote {MODEL_FILE.relative_to(Path.cwd())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
