"""The routine as the engine returns it and routine_json stores it (versioned; its JSON Schema
is published as skin/schemas/routine.schema.json)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reason(_Out):
    """Why a step is there: a measured concern and its score, an intake answer, or a rule."""

    source: Literal["analysis", "intake", "rule"]
    text: str
    concern: str | None = None
    score: float | None = None
    field: str | None = None


class Step(_Out):
    id: str = Field(description="Unique within the routine, e.g. 'pm-retinoid'.")
    kind: str = Field(description="cleanser, treatment, eye_care, moisturiser, sunscreen, mask.")
    product: str
    ingredients: list[str]
    active: str | None = Field(default=None, description="The active's id, for treatments.")
    family: str | None = None
    minutes: int
    fragrance_free: bool
    spf: int | None = None
    photosensitising: bool = False
    days: list[Weekday] = Field(description="The days the step is used once fully introduced.")
    why: list[Reason]


class DayPlan(_Out):
    am: list[str] = Field(description="Step ids in application order.")
    pm: list[str]
    weekly: list[str] = Field(default_factory=list)


class RampStage(_Out):
    weeks: str
    frequency: str


class RampUp(_Out):
    active: str
    start_week: int = Field(ge=1)
    stages: list[RampStage]


class Avoid(_Out):
    ingredient: str
    why: str


class Minutes(_Out):
    budget: int = Field(description="minutes_per_day from the intake.")
    am: int
    pm_busiest: int
    busiest_day: int


class Routine(_Out):
    schema_version: Literal["1.1"] = "1.1"
    rules_version: str
    intake_sha256: str = Field(
        description="SHA-256 of the intake this routine was made from (its canonical JSON: "
        "keys sorted, no spaces), so a client can tell which answers it reflects."
    )
    am: list[Step] = Field(description="Morning steps in application order; sunscreen last.")
    pm: list[Step] = Field(
        description="Evening steps in application order; see schedule for nights."
    )
    weekly: list[Step]
    schedule: dict[Weekday, DayPlan]
    ramp_up: list[RampUp] = Field(
        description="New actives one at a time, each from its start week."
    )
    avoid: list[Avoid]
    minutes: Minutes
    notes: list[str]
    disclaimer: str = "General cosmetic guidance from rules, not medical advice."

    @field_validator("schedule")
    @classmethod
    def _weekday_order(cls, schedule: dict[Weekday, DayPlan]) -> dict[Weekday, DayPlan]:
        # Stored as jsonb, whose keys come back in its own order; people read a week from Monday.
        return {day: schedule[day] for day in WEEKDAYS if day in schedule}
