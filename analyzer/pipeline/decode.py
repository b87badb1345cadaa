"""Decode stage: format by content, byte and pixel limits, EXIF orientation, early downscale."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from analyzer.pipeline.limits import PHOTO_LIMITS, PhotoLimits
from analyzer.pipeline.rejection import Failure, reject
from skin.contracts import sniff_format


@dataclass(frozen=True)
class DecodedPhoto:
    """The working copy (RGB, longer side <= working_side) and how it maps to the original."""

    rgb: np.ndarray
    format: str
    original_width: int
    original_height: int
    # JPEG's 8x8 block grid as it lands on the working copy (px), when that is a whole number
    # of at least 2 (a 1/8-scale draft or a resize leaves no grid to see): blocking is measured
    # on it.
    block_period: int | None = None

    @property
    def scale(self) -> float:
        """Original pixels per working pixel (after EXIF orientation)."""
        return self.original_width / self.rgb.shape[1]


def decode_photo(data: bytes, limits: PhotoLimits = PHOTO_LIMITS) -> DecodedPhoto:
    if len(data) > limits.max_bytes:
        raise reject(Failure(
            "IMAGE_TOO_LARGE",
            f"the upload is {len(data) / 2**20:.1f} MiB"
            f" (at most {limits.max_bytes / 2**20:.0f} MiB)",
            "send a JPEG from the camera instead of an uncompressed file",
        ))  # fmt: skip
    kind = sniff_format(data)
    if kind is None:
        raise reject(Failure(
            "UNSUPPORTED_FORMAT", "the file is not a JPEG, PNG or WebP image",
            "take a photo with the camera or choose a JPEG, PNG or WebP picture",
        ))  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            width, height = image.size
            if width * height > limits.max_pixels:
                raise reject(_too_many_pixels(width, height, limits))
            decoded_bytes = round(width * height * _bytes_per_pixel(image, kind, data))
            if decoded_bytes > limits.max_decoded_bytes:
                raise reject(_too_many_bytes(width, height, decoded_bytes, limits))
            orientation = image.getexif().get(0x0112, 1)
            if kind == "JPEG":
                # libjpeg decodes at 1/2, 1/4 or 1/8 scale directly: far less work than a full
                # decode followed by a resize.
                shrink = limits.draft_side / max(width, height)
                if shrink < 1:
                    image.draft("RGB", (round(width * shrink), round(height * shrink)))
            image.load()
            block = 8.0 * image.size[0] / width if kind == "JPEG" else None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise reject(_too_many_pixels(0, 0, limits)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise reject(Failure(
            "CORRUPT_IMAGE", f"the {kind} image is damaged or incomplete",
            "take the photo again and upload it whole",
        )) from exc  # fmt: skip
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    upright = image if image.mode == "RGB" else image.convert("RGB")
    if orientation != 1:
        upright = ImageOps.exif_transpose(upright)
    if min(width, height) < limits.min_side:
        raise reject(Failure(
            "LOW_RESOLUTION",
            f"the photo is {width}x{height} px (at least {limits.min_side} px a side)",
            "use the camera's normal photo mode, not a thumbnail or screenshot",
        ))  # fmt: skip
    rgb = np.asarray(upright)
    longest = max(rgb.shape[:2])
    if longest > limits.working_side:
        # Area averaging: the right filter for shrinking, and several times faster than
        # Pillow's Lanczos on a 3 MP draft.
        factor = limits.working_side / longest
        size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        block = None
    period = round(block) if block is not None and block >= 2 and block == round(block) else None
    return DecodedPhoto(rgb, kind, width, height, period)


# PNG colour types (IHDR byte 25) and their samples per pixel.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _bytes_per_pixel(image: Image.Image, kind: str, data: bytes) -> float:
    """Bytes a decoded pixel costs, from the header: channels x bytes per sample (PNG states
    its bit depth; JPEG and WebP are 8-bit)."""
    if kind == "PNG" and len(data) >= 26:
        depth, colour = data[24], data[25]
        return _PNG_CHANNELS.get(colour, 4) * max(depth, 8) / 8
    return float(len(image.getbands()))


def _too_many_bytes(width: int, height: int, size: int, limits: PhotoLimits) -> Failure:
    return Failure(
        "IMAGE_TOO_LARGE",
        f"the image is {width}x{height} px and would take {size / 2**20:.0f} MiB to decode"
        f" (at most {limits.max_decoded_bytes / 2**20:.0f} MiB)",
        "send the photo as an 8-bit JPEG, as the camera took it",
    )


def _too_many_pixels(width: int, height: int, limits: PhotoLimits) -> Failure:
    size = f"{width}x{height} px" if width else "too many pixels"
    return Failure(
        "IMAGE_TOO_LARGE",
        f"the image is {size} (at most {limits.max_pixels / 1e6:.0f} megapixels)",
        "send the photo as the camera took it",
    )
