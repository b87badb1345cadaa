"""Turns an analysis and an intake into a routine by following rules.toml. Deterministic: the
same analysis, intake and age give the same routine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analyzer.routine.rules import Active, Product, Rules, load_rules
from skin.intake import CONCERNS, Intake, SkinType, intake_digest
from skin.routine import (
    WEEKDAYS,
    Avoid,
    DayPlan,
    Minutes,
    RampStage,
    RampUp,
    Reason,
    Routine,
    Step,
    Weekday,
)

# Nights each evening active is used, by how many evening actives there are: one active a night,
# Sunday kept free of actives (for the weekly step).
NIGHT_PATTERNS: dict[int, list[list[Weekday]]] = {
    1: [["monday", "wednesday", "friday"]],
    2: [["monday", "wednesday", "friday"], ["tuesday", "saturday"]],
    3: [["monday", "thursday"], ["tuesday", "friday"], ["wednesday", "saturday"]],
}
WEEKLY_NIGHT: Weekday = "sunday"
# Weeks each new active is given alone before the next one starts.
RAMP_WEEKS = 4
RAMP_WEEKS_SENSITIVE = 6


@dataclass(frozen=True)
class Target:
    concern: str
    score: float | None
    stated: bool

    @property
    def priority(self) -> float:
        return (self.score or 0.0) + (50.0 if self.stated else 0.0)

    def reason(self) -> Reason:
        if self.score is not None:
            stated = "; you asked for it too" if self.stated else ""
            return Reason(
                source="analysis",
                concern=self.concern,
                score=self.score,
                text=f"{self.concern.replace('_', ' ')} measured {self.score:.0f}/100{stated}",
            )
        return Reason(
            source="intake",
            field="concerns",
            concern=self.concern,
            text=f"you asked to treat {self.concern.replace('_', ' ')}",
        )


def measured_scores(analysis: dict[str, Any]) -> dict[str, float]:
    """Concern scores from an analysis result (analysis_result.schema.json)."""
    concerns = analysis.get("concerns") or {}
    scores = {}
    for name in CONCERNS:
        entry = concerns.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("score"), int | float):
            scores[name] = float(entry["score"])
    return scores


def rank_targets(scores: dict[str, float], intake: Intake, threshold: float) -> list[Target]:
    targets = [
        Target(name, scores.get(name), name in intake.concerns)
        for name in CONCERNS
        if name in intake.concerns or scores.get(name, 0.0) >= threshold
    ]
    return sorted(targets, key=lambda t: (-t.priority, t.concern))


class _Builder:
    def __init__(
        self, analysis: dict[str, Any], intake: Intake, real_age: int | None, rules: Rules
    ):
        self.intake, self.age, self.rules = intake, real_age, rules
        self.sensitive = intake.skin_type == SkinType.SENSITIVE
        self.fragrance_free = self.sensitive or intake.fragrance_free
        self.banned = set(intake.allergies) | set(intake.sensitivities)
        self.targets = rank_targets(measured_scores(analysis), intake, rules.concern_threshold)
        self.avoid: dict[str, str] = {}
        self.notes: list[str] = []

    # -- which actives -------------------------------------------------------------------
    def excluded_because(self, active: Active) -> str | None:
        for name in sorted(self.banned):
            if active.known_as(name):
                kind = "allergy" if name in self.intake.allergies else "sensitivity"
                return f"your {kind}: {name}"
        if self.intake.pregnant_or_breastfeeding and not active.pregnancy_safe:
            return "not advised when pregnant or breastfeeding"
        if self.age is not None and self.age < active.min_age:
            return f"not advised under {active.min_age}"
        return None

    def choose_actives(self) -> list[tuple[Active, Target]]:
        limit = self.rules.max_actives_sensitive if self.sensitive else self.rules.max_actives
        chosen: list[tuple[Active, Target]] = []
        for target in self.targets:
            if len(chosen) >= limit:
                break
            if any(target.concern in active.addresses for active, _ in chosen):
                continue  # already treated by an active chosen for a higher concern
            candidates = sorted(
                (a for a in self.rules.actives if target.concern in a.addresses),
                key=lambda a: (a.addresses[target.concern], not a.gentle, a.id),
            )
            for active in candidates:
                reason = self.excluded_because(active)
                if reason is not None:
                    self.avoid.setdefault(active.name, reason)
                    continue
                if all(active.id != a.id for a, _ in chosen):
                    chosen.append((active, target))
                break
        return chosen

    # -- products ------------------------------------------------------------------------
    def product(self, kind: str, variant: str) -> tuple[str, list[str]]:
        product: Product = self.rules.products[kind][variant]
        allergens = sorted(set(product.ingredients) & self.banned)
        name = product.name + (f", free of {', '.join(allergens)}" if allergens else "")
        if self.fragrance_free:
            name += ", fragrance-free"
        return name, [i for i in product.ingredients if i not in self.banned]

    def plain_step(self, slot: str, kind: str, variant: str, why: list[Reason]) -> Step:
        name, ingredients = self.product(kind, variant)
        return Step(
            id=f"{slot}-{kind}",
            kind=kind,
            product=name,
            ingredients=ingredients,
            minutes=self.rules.step(kind).minutes,
            fragrance_free=self.fragrance_free,
            days=list(WEEKDAYS),
            why=why,
        )

    def sunscreen(self) -> Step:
        mineral = self.sensitive or self.intake.pregnant_or_breastfeeding
        variant = "mineral" if mineral else "chemical"
        other = "chemical" if mineral else "mineral"
        # An allergy to one kind of filter: take the other kind when it is clean.
        if set(self.rules.products["sunscreen"][variant].ingredients) & self.banned and not (
            set(self.rules.products["sunscreen"][other].ingredients) & self.banned
        ):
            variant = other
        spf = self.rules.spf[self.intake.sun_exposure.value]
        why = [
            Reason(source="rule", text="daily broad-spectrum sunscreen protects every routine"),
            Reason(
                source="intake",
                field="sun_exposure",
                text=f"sun exposure {self.intake.sun_exposure.value}: SPF {spf}",
            ),
        ]
        step = self.plain_step("am", "sunscreen", variant, why)
        return step.model_copy(update={"product": f"{step.product}, SPF {spf}+", "spf": spf})

    def active_step(self, slot: str, active: Active, target: Target, days: list[Weekday]) -> Step:
        why = [target.reason()]
        why += [
            t.reason() for t in self.targets if t is not target and t.concern in active.addresses
        ]
        product = active.name + (", fragrance-free" if self.fragrance_free else "")
        return Step(
            id=f"{slot}-{active.id}",
            kind=active.step,
            product=product,
            ingredients=[active.id.replace("_", " ")],
            active=active.id,
            family=active.family,
            minutes=self.rules.step(active.step).minutes,
            fragrance_free=self.fragrance_free,
            photosensitising=active.photosensitising,
            days=days,
            why=why,
        )

    # -- assembly ------------------------------------------------------------------------
    def build(self) -> Routine:
        rules, intake = self.rules, self.intake
        skin = intake.skin_type.value
        skin_why = Reason(source="intake", field="skin_type", text=f"{skin} skin")
        budget = intake.minutes_per_day
        cleanse_am = budget >= 5  # below 5 minutes, mornings are sunscreen only
        base_am = (
            (rules.step("cleanser").minutes if cleanse_am else 0)
            + (rules.step("moisturiser").minutes if cleanse_am else 0)
            + rules.step("sunscreen").minutes
        )
        base_pm = rules.step("cleanser").minutes + rules.step("moisturiser").minutes
        if not cleanse_am:
            self.notes.append(
                "With under 5 minutes a day, mornings are sunscreen only;"
                " cleanse and moisturise at night."
            )

        am_actives: list[tuple[Active, Target]] = []
        pm_actives: list[tuple[Active, Target]] = []
        spare = budget - base_am - base_pm
        for active, target in self.choose_actives():
            evening = active.when == "pm" or (active.when == "any" and len(am_actives) >= 2)
            evening = evening or any(
                rules.conflicting(active.family, a.family) for a, _ in am_actives
            )
            if evening and active.when == "am":
                continue
            cost = rules.step(active.step).minutes
            # All evening actives share one slot a night: only the first one costs time.
            needed = 0 if evening and pm_actives else cost
            if needed > spare or (evening and len(pm_actives) >= max(NIGHT_PATTERNS)):
                self.notes.append(f"{active.name} left out: it does not fit {budget} minutes a day")
                continue
            spare -= needed
            (pm_actives if evening else am_actives).append((active, target))

        am: list[Step] = []
        if cleanse_am:
            am.append(self.plain_step("am", "cleanser", skin, [skin_why]))
        am += [self.active_step("am", a, t, list(WEEKDAYS)) for a, t in am_actives]
        if cleanse_am:
            am.append(self.plain_step("am", "moisturiser", skin, [skin_why]))
        am.append(self.sunscreen())
        am.sort(key=lambda s: rules.step(s.kind).order)

        nights = NIGHT_PATTERNS.get(len(pm_actives), [])
        pm_treatments = [
            self.active_step("pm", a, t, days)
            for (a, t), days in zip(pm_actives, nights, strict=False)
        ]
        pm = [self.plain_step("pm", "cleanser", skin, [skin_why]), *pm_treatments]
        pm.append(self.plain_step("pm", "moisturiser", skin, [skin_why]))
        pm.sort(key=lambda s: rules.step(s.kind).order)

        weekly = self.weekly_steps()
        schedule = {
            day: DayPlan(
                am=[s.id for s in am if day in s.days],
                pm=[s.id for s in pm if day in s.days],
                weekly=[s.id for s in weekly if day in s.days],
            )
            for day in WEEKDAYS
        }
        if any(s.photosensitising for s in pm_treatments + am):
            self.notes.append(
                "Some actives make skin more sensitive to the sun:"
                " keep the sunscreen daily and reapply outdoors."
            )
        self.add_avoid_list()
        am_minutes = sum(s.minutes for s in am)
        pm_busiest = max(sum(s.minutes for s in pm if day in s.days) for day in WEEKDAYS)
        return Routine(
            rules_version=rules.version,
            intake_sha256=intake_digest(self.intake.model_dump(mode="json")),
            am=am,
            pm=pm,
            weekly=weekly,
            schedule=schedule,
            ramp_up=self.ramp_up(am_actives + pm_actives),
            avoid=[Avoid(ingredient=k, why=v) for k, v in sorted(self.avoid.items())],
            minutes=Minutes(
                budget=budget,
                am=am_minutes,
                pm_busiest=pm_busiest,
                busiest_day=am_minutes + pm_busiest,
            ),
            notes=self.notes,
        )

    def weekly_steps(self) -> list[Step]:
        skin = self.intake.skin_type.value
        for weekly in self.rules.weekly:
            if skin in weekly.for_skin and not set(weekly.ingredients) & self.banned:
                concerns = [t for t in self.targets if t.concern in weekly.addresses]
                why = [t.reason() for t in concerns] or [
                    Reason(source="intake", field="skin_type", text=f"{skin} skin")
                ]
                return [
                    Step(
                        id=f"weekly-{weekly.id}",
                        kind="mask",
                        product=weekly.name + (", fragrance-free" if self.fragrance_free else ""),
                        ingredients=list(weekly.ingredients),
                        minutes=10,
                        fragrance_free=self.fragrance_free,
                        days=[WEEKLY_NIGHT],
                        why=why,
                    )
                ]
        return []

    def ramp_up(self, actives: list[tuple[Active, Target]]) -> list[RampUp]:
        """One new active at a time, in order of priority; each alone for RAMP_WEEKS weeks
        (longer for sensitive skin) before the next starts."""
        weeks = RAMP_WEEKS_SENSITIVE if self.sensitive else RAMP_WEEKS
        ordered = sorted(actives, key=lambda pair: (-pair[1].priority, pair[0].id))
        plans = []
        for index, (active, _) in enumerate(ordered):
            start = 1 + index * weeks
            half = weeks // 2
            if active.when == "pm":
                stages = [
                    RampStage(weeks=f"{start}-{start + half - 1}", frequency="2 nights a week"),
                    RampStage(
                        weeks=f"{start + half}-{start + weeks - 1}", frequency="3 nights a week"
                    ),
                    RampStage(weeks=f"{start + weeks} on", frequency="its nights in the schedule"),
                ]
            else:
                stages = [
                    RampStage(weeks=f"{start}-{start + half - 1}", frequency="every other day"),
                    RampStage(weeks=f"{start + half} on", frequency="daily"),
                ]
            plans.append(RampUp(active=active.id, start_week=start, stages=stages))
        return plans

    def add_avoid_list(self) -> None:
        for name in self.intake.allergies:
            self.avoid.setdefault(name, "your allergy")
        for name in self.intake.sensitivities:
            self.avoid.setdefault(name, "your sensitivity")
        if self.intake.pregnant_or_breastfeeding:
            for name in self.rules.pregnancy_avoid:
                self.avoid.setdefault(name, "not advised when pregnant or breastfeeding")
            for active in self.rules.actives:
                if not active.pregnancy_safe:
                    self.avoid.setdefault(active.name, "not advised when pregnant or breastfeeding")
        if self.fragrance_free:
            why = "sensitive skin" if self.sensitive else "you asked for fragrance-free products"
            for name in self.rules.sensitive_avoid:
                self.avoid.setdefault(name, why)


def recommend(
    analysis: dict[str, Any], intake: Intake, real_age: int | None, rules: Rules | None = None
) -> Routine:
    return _Builder(analysis, intake, real_age, rules or load_rules()).build()
