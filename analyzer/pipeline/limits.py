"""Thresholds of the decode stage and the quality gate, as data with units and reasons."""

from __future__ import annotations

from dataclasses import dataclass

from skin.contracts import MAX_PHOTO_BYTES


@dataclass(frozen=True)
class PhotoLimits:
    """What the analyzer accepts. Pixel figures are of the photo as uploaded."""

    # An upload larger than this is refused before decoding (bytes; skin/contracts.py).
    max_bytes: int = MAX_PHOTO_BYTES
    # Decompression-bomb guard: width x height, read from the header before decoding. 50 MP is
    # above every phone camera's default mode.
    max_pixels: int = 50_000_000
    # Decoded size budget before any pixel is decoded: width x height x channels x bytes per
    # sample, from the header. 50 MP of 8-bit RGB fits; a 16-bit RGBA PNG of the same pixel
    # count, which would cost several times the memory, does not.
    max_decoded_bytes: int = 160 * 1024 * 1024
    # Below this shorter side a face cannot hold enough skin pixels to measure (px).
    min_side: int = 320
    # The analysis runs on a copy whose longer side is at most working_side (px). JPEGs are
    # decoded at reduced scale (libjpeg's DCT scaling, 1/2 to 1/8, through Pillow's draft) to the
    # smallest size whose longer side is still at least draft_side: a 12 MP photo decodes at
    # 1/4 (1008 px) in a fraction of a full decode.
    working_side: int = 1280
    draft_side: int = 960


@dataclass(frozen=True)
class QualityLimits:
    """The quality gate, as commercial skin-analysis APIs apply it (each figure is reported)."""

    # The face box's width relative to the photo's width, and in photo pixels.
    min_face_fraction: float = 0.12
    min_face_pixels: float = 100.0
    # Detection confidence for counting faces (MediaPipe full-range detector).
    min_detection_confidence: float = 0.5
    # Head pose estimated from the eyes, nose and ears (degrees, approximate).
    max_yaw_degrees: float = 25.0
    max_pitch_degrees: float = 25.0
    max_roll_degrees: float = 20.0
    # Sharpness: variance of the Laplacian of the face scaled to 256 px wide, relative to the
    # face's grey-level variance (x1000). Sharp phone photos measure ~10; a Gaussian blur of
    # sigma 1.5 px on a 215 px wide face brings it under 2.
    min_sharpness: float = 2.5
    # Exposure: median CIELAB L* of the central face, and the share of clipped pixels.
    # 30: a light face at -2.7 EV measures 26-29 (calibration set); a dark skin tone in normal
    # light measures 35 and up on the calibration portraits.
    min_lightness: float = 30.0
    max_lightness: float = 88.0
    max_clipped_fraction: float = 0.25
    # Underexposure judged with the whites of the eyes: a face under this L* whose sclera
    # reflects less than this share of full light (linear) is too dark. Calibration portraits
    # at normal exposure: sclera 0.13-0.68; at -2.7 EV: 0.03-0.11 (docs/calibration.md).
    dim_face_lightness: float = 36.0
    min_sclera_luminance: float = 0.12


PHOTO_LIMITS = PhotoLimits()
QUALITY_LIMITS = QualityLimits()
