"""Photos the analyzer cannot judge are refused with the right reason, and cheaply."""

from __future__ import annotations

import io
import tracemalloc

import cv2
import numpy as np
import pytest
from PIL import Image

from analyzer.pipeline.decode import decode_photo
from analyzer.pipeline.limits import PhotoLimits
from analyzer.pipeline.rejection import PhotoRejected
from tests.analyzer import photos


def reasons(run_analysis, image: bytes) -> list[str]:
    with pytest.raises(PhotoRejected) as refused:
        run_analysis(image)
    assert refused.value.reason in refused.value.metadata["reasons"].split(",")
    # Every failure carries its figure and a fix a person can act on.
    for reason in refused.value.metadata["reasons"].split(","):
        assert " — " in refused.value.metadata[reason]
    return refused.value.metadata["reasons"].split(",")


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(photos.astronaut(400)).save(buffer, "GIF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(gif_bytes(), id="gif named .jpg"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', id="svg"),
        pytest.param(b"<!doctype html><html><body>selfie.jpg</body></html>", id="html"),
        pytest.param(b"", id="empty"),
    ],
)
def test_non_images_are_unsupported(run_analysis, content):
    assert reasons(run_analysis, content) == ["UNSUPPORTED_FORMAT"]


def test_truncated_jpeg_is_corrupt(run_analysis):
    whole = photos.encode(photos.astronaut())
    assert reasons(run_analysis, whole[: len(whole) // 2]) == ["CORRUPT_IMAGE"]


def test_png_bomb_is_refused_before_decoding():
    bomb = photos.png_bomb()
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    with pytest.raises(PhotoRejected) as refused:
        decode_photo(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert refused.value.reason == "IMAGE_TOO_LARGE"
    assert peak < 20 * 1024 * 1024, f"decoding attempt used {peak / 2**20:.0f} MiB"


def test_oversized_upload_is_refused_by_size():
    limits = PhotoLimits(max_bytes=100_000)
    with pytest.raises(PhotoRejected) as refused:
        decode_photo(photos.encode(photos.astronaut(), "PNG"), limits)
    assert refused.value.reason == "IMAGE_TOO_LARGE"


def test_small_photo_is_low_resolution(run_analysis):
    assert reasons(run_analysis, photos.encode(photos.astronaut(256))) == ["LOW_RESOLUTION"]


def test_no_face(run_analysis):
    assert reasons(run_analysis, photos.encode(photos.no_face())) == ["NO_FACE"]


def test_two_faces(run_analysis):
    assert reasons(run_analysis, photos.encode(photos.two_faces())) == ["MULTIPLE_FACES"]


def test_tiny_face(run_analysis):
    assert "FACE_TOO_SMALL" in reasons(run_analysis, photos.encode(photos.tiny_face()))


def test_dark_face(run_analysis):
    dark = (photos.astronaut().astype(np.float32) * 0.12).astype(np.uint8)
    assert "TOO_DARK" in reasons(run_analysis, photos.encode(dark))


def test_blurred_face(run_analysis):
    blurred = cv2.GaussianBlur(photos.astronaut(), (0, 0), 4)
    assert reasons(run_analysis, photos.encode(blurred)) == ["BLURRY"]


def rolled(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, rotation, (width, height), borderMode=cv2.BORDER_REFLECT)


def test_turned_head(run_analysis):
    # Rolling the photo by 35 degrees tilts the head beyond the 20 degree limit.
    assert "HEAD_TURNED" in reasons(run_analysis, photos.encode(rolled(photos.astronaut(), 35)))


def test_every_failed_rule_is_reported_at_once(run_analysis):
    tilted_and_blurred = cv2.GaussianBlur(rolled(photos.astronaut(), 35), (0, 0), 4)
    assert set(reasons(run_analysis, photos.encode(tilted_and_blurred))) == {
        "HEAD_TURNED",
        "BLURRY",
    }
    # The primary reason (ErrorInfo.reason, the one the app shows first) is the pose: a photo
    # retaken facing the camera is judged for sharpness anew.
    with pytest.raises(PhotoRejected) as refused:
        run_analysis(photos.encode(tilted_and_blurred))
    assert refused.value.reason == "HEAD_TURNED"
    assert refused.value.metadata["reasons"].split(",")[0] == "HEAD_TURNED"


def test_exif_orientation_is_applied(run_analysis):
    upright = photos.astronaut()
    # Stored rotated, with EXIF saying "rotate 90 degrees clockwise to display" (orientation 6).
    stored = np.ascontiguousarray(np.rot90(upright, k=1))
    exif = Image.Exif()
    exif[0x0112] = 6
    result = run_analysis(photos.encode(stored, exif=exif.tobytes()))
    plain = run_analysis(photos.encode(upright))
    assert result["quality"]["face_count"] == 1
    assert abs(result["face"]["box"][0] - plain["face"]["box"][0]) < 10


def test_webp_and_png_are_accepted_by_content(run_analysis):
    for fmt in ("WEBP", "PNG"):
        result = run_analysis(photos.encode(photos.astronaut(), fmt))
        assert result["image"]["format"] == fmt
