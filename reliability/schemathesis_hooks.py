"""Schemathesis hooks (loaded through SCHEMATHESIS_HOOKS) that teach the fuzzer what the OpenAPI
document's media types mean: a part declared `image/jpeg`, `image/png` or `image/webp` is a
file of that format. Without them schemathesis sends random bytes under those types, which the
gateway rightly refuses with 415, and counts that as the document being looser than the server.

The images are small and made here by Pillow from drawn sizes and colours, so the fuzzer still
varies them; the analyzer refuses most of them (too small, no face), which ends the task
`failed` and is a valid outcome of an accepted request."""

from __future__ import annotations

import io

import schemathesis
from hypothesis import strategies as st
from PIL import Image


@st.composite
def _image_bytes(draw: st.DrawFn, image_format: str) -> bytes:
    width = draw(st.integers(min_value=1, max_value=96))
    height = draw(st.integers(min_value=1, max_value=96))
    colour = draw(st.tuples(*[st.integers(min_value=0, max_value=255)] * 3))
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=image_format)
    return buffer.getvalue()


for _media_type, _format in (("image/jpeg", "JPEG"), ("image/png", "PNG"), ("image/webp", "WEBP")):
    schemathesis.openapi.media_type(_media_type, _image_bytes(_format))


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    """Drop multipart cases with an empty list as a field: multipart has no way to send one,
    so the request goes out without that field at all. For an optional field that is a valid
    request, and schemathesis would report the server for accepting "invalid" data."""
    if case.media_type != "multipart/form-data" or not isinstance(case.body, dict):
        return True
    return not any(value == [] for value in case.body.values())
