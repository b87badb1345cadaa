"""The calibration set's reframed photos measure the person's own skin: a crop or a grey pad
that lets a tight close-up pass the framing check must not put any of the measured skin on the
pad (a close-up whose crop cuts the forehead would, and its figures would be the pad's)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from analyzer.pipeline.canonical import canonical_face
from analyzer.pipeline.decode import decode_photo
from analyzer.pipeline.face_model import FaceModel
from analyzer.pipeline.measure_context import build_context
from calibration import edits
from calibration.sources import PAD_GREY, SOURCES, Source, photo_rgb


def skin_on_pad(source: Source, model: FaceModel) -> float:
    """The share of the measured skin that lies on the grey border."""
    photo = decode_photo(edits.encode(photo_rgb(source), "PNG"))
    _, landmarks = model.find_faces(photo.rgb)
    assert landmarks is not None, source.name
    face = canonical_face(photo.rgb, landmarks, photo.scale)
    skin = build_context(face).regions.skin
    grey = np.all(np.abs(face.rgb.astype(int) - PAD_GREY) <= 2, axis=2)
    return float(grey[skin].mean())


@pytest.mark.parametrize("source", [s for s in SOURCES if s.pad], ids=lambda s: s.name)
def test_a_padded_close_up_measures_no_skin_on_its_pad(face_model, source):
    assert skin_on_pad(source, face_model) < 0.005


def test_each_half_has_three_re_captured_people():
    photos = Counter(s.person for s in SOURCES if s.expect == "accept" and s.person)
    recaptured = Counter(
        next(s.half for s in SOURCES if s.person == person)
        for person, count in photos.items()
        if count >= 2
    )
    assert recaptured["tune"] >= 3 and recaptured["report"] >= 3, recaptured
