"""Clear profiles get what a dermatology reference would recommend (sources: docs/routine.md)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from analyzer.routine.engine import recommend
from skin import schema_files as schemas
from skin.intake import Intake

SCHEMA_DIR = Path(__file__).parents[2] / "skin/schemas"
ROUTINE_SCHEMA = json.loads((SCHEMA_DIR / "routine.schema.json").read_text())


def analysis(**scores: float) -> dict:
    return {"concerns": {name: {"score": score} for name, score in scores.items()}}


def actives(routine) -> set[str]:
    return {step.active for step in [*routine.am, *routine.pm] if step.active}


def test_oily_acne_prone_teen():
    routine = recommend(
        analysis(acne=72, shine=60, pores=48, wrinkles=5),
        Intake(skin_type="oily", concerns=["acne"], minutes_per_day=10),
        real_age=16,
    )
    jsonschema.validate(routine.model_dump(mode="json"), ROUTINE_SCHEMA)
    assert actives(routine) & {"benzoyl_peroxide", "retinoid", "salicylic_acid"}
    assert "salicylic_acid" in actives(routine) or "niacinamide" in actives(routine)  # shine, pores
    moisturiser = next(s for s in routine.am if s.kind == "moisturiser")
    assert "oil-free" in moisturiser.product and "non-comedogenic" in moisturiser.product
    assert routine.am[-1].kind == "sunscreen" and routine.am[-1].spf >= 30
    acne_step = next(
        s for s in [*routine.am, *routine.pm] if s.active in {"benzoyl_peroxide", "retinoid"}
    )
    assert any(reason.concern == "acne" and reason.score == 72 for reason in acne_step.why)


def test_dry_sensitive_sixty_year_old():
    routine = recommend(
        analysis(wrinkles=66, redness=52, texture=44, spots=20),
        Intake(skin_type="sensitive", minutes_per_day=8),
        real_age=60,
    )
    steps = [*routine.am, *routine.pm, *routine.weekly]
    assert all(step.fragrance_free for step in steps)
    assert "mineral" in routine.am[-1].product
    assert "ceramides" in next(s for s in routine.pm if s.kind == "moisturiser").ingredients
    assert "retinoid" in actives(routine)  # wrinkles: the best-evidenced topical
    assert "azelaic_acid" in actives(routine)  # redness, and gentle
    assert len(actives(routine)) <= 2
    starts = [plan.start_week for plan in routine.ramp_up]
    assert starts == [1, 7]  # one new active at a time, six weeks apart
    assert any(a.ingredient == "fragrance (parfum)" for a in routine.avoid)


def test_pregnant_with_pigmentation():
    routine = recommend(
        analysis(spots=74, tone_unevenness=58, acne=30),
        Intake(
            skin_type="normal",
            concerns=["spots"],
            pregnant_or_breastfeeding=True,
            minutes_per_day=10,
        ),
        real_age=31,
    )
    used = actives(routine)
    assert "retinoid" not in used and "salicylic_acid" not in used
    assert used & {"azelaic_acid", "vitamin_c"}
    assert "mineral" in routine.am[-1].product
    avoided = {a.ingredient for a in routine.avoid}
    assert "hydroquinone" in avoided
    assert any("retinoid" in name for name in avoided)


def test_allergy_to_a_base_ingredient_asks_for_a_product_without_it():
    routine = recommend(analysis(), Intake(skin_type="dry", allergies=["Ceramides"]), real_age=40)
    moisturiser = next(s for s in routine.pm if s.kind == "moisturiser")
    assert "ceramides" not in moisturiser.ingredients and "free of ceramides" in moisturiser.product


def test_short_routine_fits_three_minutes():
    routine = recommend(
        analysis(acne=90, wrinkles=90), Intake(skin_type="normal", minutes_per_day=3), 30
    )
    assert [s.kind for s in routine.am] == ["sunscreen"]
    assert routine.minutes.busiest_day <= 3


def test_intake_errors_name_every_field():
    with pytest.raises(ValidationError) as raised:
        Intake.model_validate({"skin_type": "purple", "minutes_per_day": 1, "favourite": "x"})
    fields = {".".join(map(str, error["loc"])) for error in raised.value.errors()}
    assert fields == {"skin_type", "minutes_per_day", "favourite"}


def test_published_schemas_match_the_models():
    for name, model in schemas.PUBLISHED.items():
        assert (SCHEMA_DIR / name).read_text() == schemas.render(model), (
            f"run `python -m skin.schema_files` and commit {name}"
        )
