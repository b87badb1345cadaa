"""The post-analysis intake form: one pydantic model shared by the gateway (which validates it)
and the analyzer (which turns it into a routine); its JSON Schema is in skin/schemas."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# The analyzer's concern names (analysis_result.schema.json, "concerns").
Concern = Literal[
    "redness", "spots", "acne", "pores", "texture", "wrinkles", "shine", "dark_circles",
    "tone_unevenness",
]  # fmt: skip
CONCERNS: tuple[str, ...] = Concern.__args__  # type: ignore[attr-defined]


class SkinType(StrEnum):
    NORMAL = "normal"
    DRY = "dry"
    OILY = "oily"
    COMBINATION = "combination"
    SENSITIVE = "sensitive"


class SunExposure(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class Budget(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# An ingredient name: at most 80 characters and no control characters (a NUL cannot be stored
# in PostgreSQL). The rule is a pattern, not code, so the published JSON Schema says exactly
# what the server accepts. JSON cannot carry a lone surrogate as text, so none gets this far.
IngredientName = Annotated[
    str, StringConstraints(max_length=80, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")
]


def _ingredient_names(values: list[str]) -> list[str]:
    # Case and spacing do not make another ingredient; blank names say nothing.
    return sorted({" ".join(value.lower().split()) for value in values if value.strip()})


class Intake(BaseModel):
    """What the user tells after the analysis. Unknown fields are refused, so a typo is an error
    rather than a silently ignored answer."""

    model_config = ConfigDict(extra="forbid", title="Skin routine intake")

    skin_type: SkinType = Field(description="How the skin usually behaves.")
    concerns: list[Concern] = Field(
        default_factory=list, max_length=9, description="Concerns the user wants treated first."
    )
    sensitivities: list[IngredientName] = Field(
        default_factory=list, max_length=30, description="Ingredients that irritate the user."
    )
    allergies: list[IngredientName] = Field(
        default_factory=list, max_length=30, description="Ingredients the user is allergic to."
    )
    pregnant_or_breastfeeding: bool = Field(default=False)
    sun_exposure: SunExposure = Field(default=SunExposure.MODERATE)
    budget: Budget = Field(default=Budget.MEDIUM)
    minutes_per_day: int = Field(
        default=10,
        ge=3,
        le=60,
        description="Minutes a day for the routine, morning and night together.",
    )
    current_products: list[IngredientName] = Field(default_factory=list, max_length=30)
    fragrance_free: bool = Field(default=False, description="Only fragrance-free products.")

    @field_validator("sensitivities", "allergies", "current_products")
    @classmethod
    def _normalise(cls, values: list[str]) -> list[str]:
        return _ingredient_names(values)

    @field_validator("concerns")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))


def intake_digest(intake: dict[str, Any]) -> str:
    """SHA-256 (hex) of an intake's canonical JSON: keys sorted, no spaces, UTF-8."""
    canonical = json.dumps(intake, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def intake_json_schema() -> dict[str, object]:
    return Intake.model_json_schema()
