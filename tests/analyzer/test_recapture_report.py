"""The re-capture goal and the fairness report of `make validate`, on made-up results: a person's
spread is max - min of each concern over their photos, each photo's skin-tone category must lie
in every other photo's band (and confident categories agree), and a refused photo of a person is
a miss."""

from __future__ import annotations

from typing import Any

from calibration.sources import Source
from calibration.validate import CONCERNS, Refused, fairness, recapture


def result(
    score: float,
    category: str,
    confidence: str = "high",
    ita: float = 45.0,
    band: list[str] | None = None,
) -> dict:
    reason = None if confidence == "high" else {"code": "DIM_LIGHT", "message": "dim"}
    concerns = {name: {"score": score} for name in CONCERNS}
    tone = {"category": category, "ita_degrees": ita, "confidence": confidence,
            "confidence_reason": reason, "categories": band or [category]}  # fmt: skip
    return {"concerns": concerns, "skin_tone": tone}


def photos(person: str, count: int) -> list[Source]:
    return [Source(f"{person}{i}", "x==1", "m", "0", "who", person=person) for i in range(count)]


def verdict(selected: list[Source], bases: dict[str, Any]) -> tuple[bool, float]:
    goal, spreads = recapture(selected, bases)
    row = goal.rows[0]
    return goal.passed[0], float(row[3])


def test_spread_is_the_range_over_a_persons_photos() -> None:
    selected = photos("a", 3)
    bases = {"a0": result(10, "light"), "a1": result(22, "light"), "a2": result(14, "light")}
    assert verdict(selected, bases) == (True, 12.0)
    bases["a1"] = result(30, "light")
    assert verdict(selected, bases) == (False, 20.0)


def test_skin_tones_must_land_in_each_others_bands() -> None:
    selected = photos("a", 3)
    wide = ["light", "intermediate", "tan", "brown"]
    bases = {"a0": result(10, "light", "low", band=wide),
             "a1": result(10, "light", "low", band=wide),
             "a2": result(10, "brown", "low", band=wide)}  # fmt: skip
    assert verdict(selected, bases)[0]
    # A photo whose band says "light" while another photo of the face reads brown: a miss.
    bases["a0"] = result(10, "light", "low", band=["light"])
    assert not verdict(selected, bases)[0]
    # Two confident categories that differ: a miss, whatever the bands.
    bases = {"a0": result(10, "light", band=wide), "a1": result(10, "light", band=wide),
             "a2": result(10, "brown", band=wide)}  # fmt: skip
    assert not verdict(selected, bases)[0]


def test_a_refused_photo_of_a_person_is_a_miss() -> None:
    selected = photos("a", 2)
    bases = {"a0": result(10, "light"), "a1": Refused("TOO_DARK")}
    assert not verdict(selected, bases)[0]


def test_fairness_puts_each_person_in_the_band_of_their_well_lit_photos() -> None:
    selected = photos("a", 2) + photos("b", 1)
    bases = {"a0": result(10, "dark", ita=-40), "a1": result(12, "tan", "low", ita=20),
             "b0": Refused("TOO_DARK")}  # fmt: skip
    _, spreads = recapture(selected, bases)
    rows = {row[0]: row for row in fairness(selected, bases, spreads).rows}
    assert rows["below -30 (dark)"][1:5] == (1, 2, 0, 1)
    assert rows["below -30 (dark)"][5] == 2.0
    assert rows["unknown (all refused)"][1:4] == (1, 1, 1)  # b: refused, so no band
    assert all(row[1] == 0 for name, row in rows.items() if name.startswith(("above", "10", "-")))
