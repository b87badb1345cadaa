"""Loads and checks rules.toml: the routine engine reads rules only through these models."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from skin.intake import CONCERNS

RULES_FILE = Path(__file__).with_name("rules.toml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepKind(_Strict):
    kind: str
    order: int
    minutes: int


class Active(_Strict):
    id: str
    name: str
    family: str
    aliases: list[str]
    addresses: dict[str, int]
    when: Literal["am", "pm", "any"]
    step: str = "treatment"
    pregnancy_safe: bool
    photosensitising: bool
    gentle: bool
    min_age: int

    def known_as(self, name: str) -> bool:
        return name in {self.id.replace("_", " "), self.id, *self.aliases}


class Product(_Strict):
    name: str
    ingredients: list[str]


class WeeklyStep(_Strict):
    id: str
    name: str
    for_skin: list[str]
    addresses: dict[str, int]
    ingredients: list[str]


class Rules(_Strict):
    version: str
    concern_threshold: float
    max_actives: int
    max_actives_sensitive: int
    spf: dict[str, int]
    conflicts: list[tuple[str, str]]
    pregnancy_avoid: list[str]
    sensitive_avoid: list[str]
    steps: list[StepKind]
    products: dict[str, dict[str, Product]]
    actives: list[Active]
    weekly: list[WeeklyStep]

    @model_validator(mode="after")
    def _consistent(self) -> Rules:
        kinds = {step.kind for step in self.steps}
        families = {active.family for active in self.actives}
        for active in self.actives:
            unknown = set(active.addresses) - set(CONCERNS)
            if unknown or active.step not in kinds:
                raise ValueError(
                    f"active {active.id}: unknown concerns {unknown} or step {active.step}"
                )
        for pair in self.conflicts:
            if not set(pair) <= families:
                raise ValueError(f"conflict {pair} names an unknown family")
        return self

    def step(self, kind: str) -> StepKind:
        return next(step for step in self.steps if step.kind == kind)

    def conflicting(self, family_a: str, family_b: str) -> bool:
        return (family_a, family_b) in self.conflicts or (family_b, family_a) in self.conflicts


@cache
def load_rules(path: Path = RULES_FILE) -> Rules:
    with path.open("rb") as handle:
        return Rules.model_validate(tomllib.load(handle))
