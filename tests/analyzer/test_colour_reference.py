"""The white of the eyes is told from skin by being less red than the skin beside it, a test that
the light's colour cannot change (a gain per channel is an offset in log space)."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.pipeline.color_reference import is_white_beside

SKIN = np.array([0.42, 0.30, 0.22])  # linear RGB of light skin in neutral light
WHITE = np.array([0.60, 0.58, 0.56])  # the sclera beside it
LIGHTS = {
    "neutral": np.array([1.0, 1.0, 1.0]),
    "tungsten": np.array([1.5, 1.0, 0.45]),  # the white's cast ~3.6, past the old limit of 1.6
    "shade": np.array([0.8, 1.0, 1.3]),
}


@pytest.mark.parametrize("light", LIGHTS.values(), ids=LIGHTS.keys())
def test_a_white_is_a_white_under_any_light(light: np.ndarray) -> None:
    assert is_white_beside(WHITE * light, SKIN * light)


@pytest.mark.parametrize("light", LIGHTS.values(), ids=LIGHTS.keys())
def test_eyelid_skin_taken_for_the_white_is_refused(light: np.ndarray) -> None:
    """Lid skin is a little paler than the cheek but as red: it is no white, in any light."""
    eyelid = SKIN * 1.3
    assert not is_white_beside(eyelid * light, SKIN * light)


def test_a_light_too_coloured_to_undo_is_refused() -> None:
    sodium = np.array([1.0, 0.5, 0.05])
    assert not is_white_beside(WHITE * sodium, SKIN * sodium)
