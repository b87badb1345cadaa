"""Test photos: real faces that ship inside pip packages (scikit-image's data), and controlled
changes of them made here, so each test knows exactly what it altered."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image
from skimage import data


def astronaut(side: int = 1024) -> np.ndarray:
    """NASA's portrait of Eileen Collins (public domain), scaled so the face is ~210 px wide."""
    return cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)


def encode(rgb: np.ndarray, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        options.setdefault("quality", 95)
    Image.fromarray(rgb).save(buffer, fmt, **options)
    return buffer.getvalue()


def plant_dark_spots(
    rgb: np.ndarray, centres: list[tuple[float, float]], radius: float
) -> np.ndarray:
    """Brown, soft-edged spots (like lentigines): darker and a little yellower, not redder."""
    out = rgb.astype(np.float32)
    yy, xx = np.mgrid[: rgb.shape[0], : rgb.shape[1]]
    for cx, cy in centres:
        weight = np.clip(1.5 - np.hypot(xx - cx, yy - cy) / radius, 0, 1)[..., None]
        out = out * (1 - 0.45 * weight) + np.array([40.0, 25.0, 10.0]) * 0.45 * weight
    return np.clip(out, 0, 255).astype(np.uint8)


def redden(rgb: np.ndarray, polygon: np.ndarray, strength: float = 0.25) -> np.ndarray:
    """Flush inside a polygon: more red, less green and blue (raises CIELAB a*)."""
    inside = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(polygon).astype(np.int32)], (1,))
    weight = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 3)[..., None]
    out = rgb.astype(np.float32)
    flushed = out * np.array([1.0 + strength * 0.4, 1.0 - strength, 1.0 - strength * 0.8])
    return np.clip(out * (1 - weight) + flushed * weight, 0, 255).astype(np.uint8)


def two_faces() -> np.ndarray:
    face = astronaut(640)
    return np.concatenate([face, face[:, ::-1]], axis=1)


def tiny_face() -> np.ndarray:
    canvas = np.full((1024, 1024, 3), 120, np.uint8)
    canvas[400:656, 400:656] = astronaut(256)  # a face ~50 px wide
    return canvas


def no_face() -> np.ndarray:
    return cv2.resize(data.coffee(), (900, 600), interpolation=cv2.INTER_CUBIC)


def png_bomb(side: int = 10_000) -> bytes:
    """A valid greyscale PNG of side x side (100 MP at the default) that compresses to ~100 KB:
    written row by row so the test itself never holds the pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes(side)
    compressed = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", compressed)
        + chunk(b"IEND", b"")
    )
