"""Invariants of every routine, over thousands of generated intakes and analyses (hypothesis)."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.routine.engine import recommend
from analyzer.routine.rules import load_rules
from skin.intake import CONCERNS, Budget, Intake, SkinType, SunExposure
from skin.routine import WEEKDAYS, Routine

RULES = load_rules()
# Allergies and sensitivities drawn from every name the rules know, plus a few they do not.
VOCABULARY = sorted(
    {alias for active in RULES.actives for alias in active.aliases}
    | {active.id.replace("_", " ") for active in RULES.actives}
    | {i for kind in RULES.products.values() for p in kind.values() for i in p.ingredients}
    | {i for weekly in RULES.weekly for i in weekly.ingredients}
    | {"lanolin", "fragrance", "nickel"}
)

intakes = st.builds(
    Intake,
    skin_type=st.sampled_from(SkinType),
    concerns=st.lists(st.sampled_from(CONCERNS), unique=True, max_size=5),
    sensitivities=st.lists(st.sampled_from(VOCABULARY), max_size=3),
    allergies=st.lists(st.sampled_from(VOCABULARY), max_size=3),
    pregnant_or_breastfeeding=st.booleans(),
    sun_exposure=st.sampled_from(SunExposure),
    budget=st.sampled_from(Budget),
    minutes_per_day=st.integers(min_value=3, max_value=60),
    fragrance_free=st.booleans(),
)
analyses = st.fixed_dictionaries(
    {
        "concerns": st.dictionaries(
            st.sampled_from(CONCERNS),
            st.fixed_dictionaries({"score": st.floats(min_value=0, max_value=100)}),
        )
    }
)
ages = st.none() | st.integers(min_value=0, max_value=110)


def every_step(routine: Routine):
    return [*routine.am, *routine.pm, *routine.weekly]


def check_invariants(routine: Routine, intake: Intake) -> None:
    # SPF 30+ is the last morning step.
    assert routine.am[-1].kind == "sunscreen"
    assert routine.am[-1].spf is not None and routine.am[-1].spf >= 30
    # Retinoids only at night, and never when pregnant or breastfeeding.
    assert all(step.family != "retinoid" for step in routine.am)
    if intake.pregnant_or_breastfeeding:
        assert all(step.family != "retinoid" for step in every_step(routine))
        unsafe = {a.id for a in RULES.actives if not a.pregnancy_safe}
        assert all(step.active not in unsafe for step in every_step(routine))
    # No conflicting actives in the same morning or the same night.
    for day in WEEKDAYS:
        for slot in (routine.am, routine.pm):
            families = sorted({s.family for s in slot if s.family and day in s.days})
            for a, b in combinations(families, 2):
                assert not RULES.conflicting(a, b), (day, a, b)
    # An allergy's (or sensitivity's) ingredient never appears.
    banned = set(intake.allergies) | set(intake.sensitivities)
    actives = {a.id: a for a in RULES.actives}
    for step in every_step(routine):
        assert not banned & set(step.ingredients), (step.id, banned)
        if step.active:
            assert not any(actives[step.active].known_as(name) for name in banned)
    # Sensitive skin: fragrance-free products, and new actives one at a time.
    if intake.skin_type == SkinType.SENSITIVE or intake.fragrance_free:
        assert all(step.fragrance_free for step in every_step(routine))
    if intake.skin_type == SkinType.SENSITIVE:
        starts = [plan.start_week for plan in routine.ramp_up]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        for earlier, later in zip(starts, starts[1:], strict=False):
            assert later - earlier >= 4
    # Every active has a ramp-up plan, and every step says why.
    assert {p.active for p in routine.ramp_up} == {
        s.active for s in every_step(routine) if s.active
    }
    assert all(step.why for step in every_step(routine))
    # The daily steps fit the minutes the user has, on the busiest day.
    for day in WEEKDAYS:
        minutes = sum(s.minutes for s in routine.am if day in s.days)
        minutes += sum(s.minutes for s in routine.pm if day in s.days)
        assert minutes <= intake.minutes_per_day
    assert routine.minutes.busiest_day <= intake.minutes_per_day


@settings(max_examples=1500, deadline=None)
@given(analysis=analyses, intake=intakes, real_age=ages)
def test_every_routine_keeps_the_invariants(analysis, intake, real_age):
    routine = recommend(analysis, intake, real_age)
    check_invariants(routine, intake)
    # Deterministic: the same input gives the same routine.
    assert recommend(analysis, intake, real_age) == routine
