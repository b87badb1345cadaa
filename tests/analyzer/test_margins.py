"""Every score's margin (analyzer/pipeline/margins.py): it follows the photo's condition, it
holds the re-takes of photos it was not fitted on (a bounded slice of `make validate`'s margin
goal), and the fit learns what widens a band from the moves it is shown."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.pipeline.margins import MarginModel, fitted_model, margins
from analyzer.pipeline.metrics_color import with_band
from analyzer.pipeline.rejection import PhotoRejected
from calibration import edits
from calibration.fit_margins import fit
from calibration.margin_data import (
    MARGIN_EDITS,
    QUANTITIES,
    Measured,
    Observation,
    covered,
    observations,
)
from calibration.sources import SOURCES, photo_rgb
from skin.intake import CONCERNS

BY_NAME = {source.name: source for source in SOURCES}


def test_every_concern_has_a_fitted_base_and_the_interval_stays_on_the_scale():
    assert set(fitted_model().base) == set(QUANTITIES)
    model = MarginModel(floor=2.0, base=dict.fromkeys(CONCERNS, 10.0), weights={"noise": 1.0})
    bands = margins({"spots": 3.0, "acne": 97.0}, {"noise": 1.0}, model)
    assert bands["spots"] == {"margin": 20.0, "interval": [0.0, 23.0]}
    assert bands["acne"]["interval"] == [77.0, 100.0]


def test_a_dim_grainy_compressed_copy_of_a_real_photo_has_wider_margins(run_analysis):
    # Which of its faults widens the band is the fit's to learn (dim light, in the last fit:
    # docs/metrics.md); a copy worse in every respect must never be trusted more.
    rgb = photo_rgb(BY_NAME["feat_single"])
    clean = run_analysis(edits.encode(rgb, "PNG"))
    dim = edits.gain(rgb, 0.6, 0.6, 0.6)
    poor = run_analysis(edits.encode(edits.add_noise(dim, 4.0), quality=70))
    assert poor["uncertainty"]["widening"] > clean["uncertainty"]["widening"]
    for name in CONCERNS:
        # Never narrower; wider for every concern above the floor.
        assert poor["concerns"][name]["margin"] >= clean["concerns"][name]["margin"], name
        low, high = clean["concerns"][name]["interval"]
        assert low <= clean["concerns"][name]["score"] <= high
    floor = fitted_model().floor
    for name in CONCERNS:
        if poor["concerns"][name]["margin"] > floor:
            assert poor["concerns"][name]["margin"] > clean["concerns"][name]["margin"], name
    assert poor["overall"]["margin"] > clean["overall"]["margin"]


def test_a_face_whose_red_channel_clips_reports_it_in_its_condition(run_analysis):
    # A warm face in strong light clips red first; its redness is then read on the rest of the
    # skin, which the condition says (cage_portrait in the calibration set: 63 % clipped).
    rgb = photo_rgb(BY_NAME["feat_single"])
    clean = run_analysis(edits.encode(rgb, "PNG"))["uncertainty"]["condition"]
    warm = run_analysis(edits.encode(edits.gain(rgb, 1.5, 1.0, 1.0), "PNG"))
    # Clipped share: about a fifth of the skin in the photo as published, most of it here.
    assert warm["uncertainty"]["condition"]["colour_clipped"] > clean["colour_clipped"] + 1.0


@pytest.fixture(scope="module")
def held_out(face_model) -> list[Observation]:
    """Re-takes of two photos of the half the margins were not fitted on."""
    from analyzer.pipeline.run import analyze

    def run(image: bytes):
        try:
            return analyze(image, None, face_model, lambda *_: None)
        except PhotoRejected:
            return None

    measured = []
    for name in ("biden", "feat_single"):
        source = BY_NAME[name]
        assert source.half == "report"
        rgb = photo_rgb(source)
        chosen = ("bright x0.85", "wb warm", "jpeg q75", "noise 3, q92")
        edited = {edit: run(MARGIN_EDITS[edit](rgb)) for edit in chosen}
        measured.append(
            Measured(source, run(edits.encode(rgb, "PNG")), {k: v for k, v in edited.items() if v})
        )
    return observations(measured)


def test_re_takes_of_held_out_photos_land_inside_their_bands(held_out):
    assert len(held_out) == 2 * 4 * len(QUANTITIES) * 2
    share = sum(map(covered, held_out)) / len(held_out)
    assert share >= 0.9, f"{share:.0%} inside"


def _observation(concern: str, move: float, noise: float) -> Observation:
    condition = {"noise": noise, "resolution": 0.0}
    photo = {"uncertainty": {"condition": condition}}
    return Observation(concern, move, photo, "edit", "synthetic", "tune")


def test_the_fit_widens_the_band_with_the_condition_that_moves_the_scores():
    # Moves grow with grain: the fit must put its weight on noise, none on resolution, and
    # hold 90 % of the moves it saw.
    generator = np.random.default_rng(7)
    found = []
    for concern in CONCERNS:
        for noise in np.linspace(0.0, 2.0, 40):
            move = abs(generator.normal(0.0, 2.0 * (1 + 2 * noise)))
            found.append(_observation(concern, move, noise))
    model = fit(found)
    assert model.weights["noise"] > 0.0 and model.weights["resolution"] == 0.0
    inside = [o.move <= model.margin(o.concern, o.photo["uncertainty"]["condition"]) for o in found]
    assert np.mean(inside) >= 0.9


def test_a_skin_tone_band_across_categories_is_not_called_confident():
    tone = {"ita_degrees": 48.0, "category": "light", "confidence": "high",
            "confidence_reason": None}  # fmt: skip
    narrow = with_band(tone, 3.0)
    assert narrow["categories"] == ["light"] and narrow["confidence"] == "high"
    assert narrow["ita_interval"] == [45.0, 51.0]
    wide = with_band(tone, 10.0)
    assert wide["categories"] == ["very light", "light", "intermediate"]
    assert wide["confidence"] == "low"
    assert wide["confidence_reason"]["code"] == "BETWEEN_CATEGORIES"
    # A tone already read with low confidence keeps its own reason.
    unlit = {**tone, "confidence": "low", "confidence_reason": {"code": "DIM_LIGHT", "message": ""}}
    assert with_band(unlit, 10.0)["confidence_reason"]["code"] == "DIM_LIGHT"
    # The band's edges follow the categories' bounds (ITA 41 is intermediate, above it light).
    assert with_band({**tone, "ita_degrees": 41.0}, 0.0)["categories"] == ["intermediate"]
    assert with_band({**tone, "ita_degrees": 41.0}, 0.5)["categories"] == ["light", "intermediate"]


def test_a_real_photos_skin_tone_states_its_band(run_analysis):
    tone = run_analysis(edits.encode(photo_rgb(BY_NAME["feat_single"]), "PNG"))["skin_tone"]
    low, high = tone["ita_interval"]
    assert low < tone["ita_degrees"] < high and tone["margin"] > 0
    assert tone["category"] in tone["categories"]
