"""The measurements follow the skin, not the camera, on several real portraits (the calibration
set, docs/calibration.md): a bounded slice of `make validate` that runs in `make test`."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from analyzer.pipeline.face_model import FaceModel
from analyzer.pipeline.rejection import PhotoRejected
from calibration import edits
from calibration.sources import SOURCES, Source, photo_bytes, photo_rgb

MAX_CAMERA_MOVE = 10.0
BY_NAME = {source.name: source for source in SOURCES}


def rgb_of(name: str) -> np.ndarray:
    return photo_rgb(BY_NAME[name])


def png(rgb: np.ndarray) -> bytes:
    return edits.encode(rgb, "PNG")


def refusal(run_analysis, image: bytes) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as refused:
        run_analysis(image)
    return refused.value


@pytest.fixture(scope="module")
def baselines(run_analysis) -> dict[str, dict]:
    return {}


def baseline(run_analysis, baselines: dict[str, dict], name: str) -> dict:
    if name not in baselines:
        baselines[name] = run_analysis(png(rgb_of(name)))
    return baselines[name]


def scores(result: dict) -> dict[str, float]:
    return {name: concern["score"] for name, concern in result["concerns"].items()}


@pytest.mark.parametrize("name", ["astronaut", "feat_surprise", "biden"])
@pytest.mark.parametrize(
    "edit",
    [
        pytest.param((1.08, 1.0, 0.92), id="warmer light"),
        pytest.param((0.92, 1.0, 1.08), id="cooler light"),
        pytest.param((0.85, 0.85, 0.85), id="darker exposure"),
    ],
)
def test_light_colour_and_exposure_move_no_score_more_than_10(run_analysis, baselines, name, edit):
    before = scores(baseline(run_analysis, baselines, name))
    after = scores(run_analysis(png(edits.gain(rgb_of(name), *edit))))
    moves = {concern: abs(after[concern] - before[concern]) for concern in before}
    assert max(moves.values()) <= MAX_CAMERA_MOVE, moves


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        # A re-encode that nudged a papule's colour moved it from acne to spots (+15).
        pytest.param("obama", lambda rgb: edits.encode(rgb, quality=80), id="obama-jpeg-q80"),
        pytest.param(
            "obama", lambda rgb: png(edits.gain(rgb, 0.92, 1.0, 1.08)), id="obama-cooler-light"
        ),
        # A shadow cut by the skin mask's edge became a whole spot when a landmark moved (+20).
        pytest.param(
            "grace_hopper", lambda rgb: png(edits.gain(rgb, 1.15, 1.15, 1.15)), id="hopper-x1.15"
        ),
    ],
)
def test_spots_and_acne_hold_under_a_re_encode_and_the_light(run_analysis, baselines, name, edit):
    before = scores(baseline(run_analysis, baselines, name))
    after = scores(run_analysis(edit(rgb_of(name))))
    moves = {concern: abs(after[concern] - before[concern]) for concern in ("spots", "acne")}
    assert max(moves.values()) <= MAX_CAMERA_MOVE, moves


@pytest.mark.parametrize("name", ["feat_surprise", "feat_happy"])
def test_photo_size_does_not_change_the_scores(run_analysis, name):
    small, large = (
        scores(run_analysis(edits.encode(edits.rescale(rgb_of(name), f), quality=92)))
        for f in (1, 2)
    )
    moves = {concern: abs(large[concern] - small[concern]) for concern in small}
    assert max(moves.values()) <= MAX_CAMERA_MOVE, moves


@pytest.mark.parametrize("name", ["feat_surprise", "feat_single", "obama"])
def test_planted_brown_spots_are_found_where_planted_and_stay_spots(
    run_analysis, face_model: FaceModel, name
):
    rgb = rgb_of(name)
    frame = edits.face_frame(rgb, face_model)
    result = run_analysis(png(edits.plant_spots(rgb, frame)))
    tolerance = 0.05 * frame.ipd

    def hits(kind: str) -> int:
        found = result["concerns"][kind]["details"]["locations"]
        return sum(
            any(np.hypot(*(np.array(s["center"]) - centre)) <= tolerance for s in found)
            for centre in edits.spot_centres(frame)
        )

    assert hits("spots") >= 8
    assert hits("acne") <= 1


@pytest.mark.parametrize("name", ["astronaut", "feat_happy", "feat_turned15"])
def test_a_flushed_cheek_raises_that_cheeks_redness_only(run_analysis, face_model, baselines, name):
    rgb = rgb_of(name)
    before = baseline(run_analysis, baselines, name)
    after = run_analysis(png(edits.redden_left_cheek(rgb, edits.face_frame(rgb, face_model))))
    a_before = before["concerns"]["redness"]["details"]["regions"]
    a_after = after["concerns"]["redness"]["details"]["regions"]
    assert a_after["left_cheek"] - a_before["left_cheek"] >= 3.0
    for region in ("right_cheek", "forehead"):
        assert abs(a_after[region] - a_before[region]) <= 0.5, region
    # The forehead's hair mask does not take its reference from the cheeks (the landmark
    # model's jitter between two photos moves a region by a pixel at most).
    fractions = [r["regions"]["forehead"]["skin_fraction"] for r in (before, after)]
    assert abs(fractions[0] - fractions[1]) <= 0.01
    assert after["concerns"]["redness"]["score"] > before["concerns"]["redness"]["score"]
    # A flush on one cheek is redness, not a second light: the light's side-to-side gradient
    # (fitted outside the cheeks) does not follow it.
    gradients = [r["concerns"]["redness"]["details"]["light_gradient"] for r in (before, after)]
    assert abs(gradients[1] - gradients[0]) <= 1.0, gradients


@pytest.mark.parametrize("name", ["astronaut", "feat_happy", "obama"])
def test_light_of_two_colours_from_two_sides_is_not_redness(
    run_analysis, face_model, baselines, name
):
    # A warm lamp on one side, a cool window on the other: the skin is what it was.
    rgb = rgb_of(name)
    frame = edits.face_frame(rgb, face_model)
    before = baseline(run_analysis, baselines, name)["concerns"]["redness"]
    after = run_analysis(png(edits.warm_light_from_one_side(rgb, frame)))["concerns"]["redness"]
    assert after["details"]["light_gradient"] - before["details"]["light_gradient"] > 5.0
    assert abs(after["score"] - before["score"]) <= 5.0, (before["score"], after["score"])


@pytest.mark.parametrize("name", ["grace_hopper", "feat_single"])
def test_darker_under_eyes_raise_the_dark_circle_score(run_analysis, face_model, baselines, name):
    rgb = rgb_of(name)
    before = baseline(run_analysis, baselines, name)["concerns"]["dark_circles"]["score"]
    shadowed = edits.darken_under_eyes(rgb, edits.face_frame(rgb, face_model))
    after = run_analysis(png(shadowed))["concerns"]["dark_circles"]["score"]
    assert after - before >= 10.0


def test_skin_fractions_are_shares(run_analysis, baselines):
    for region in baseline(run_analysis, baselines, "feat_surprise")["regions"].values():
        assert 0.0 <= region["skin_fraction"] <= 1.0


@pytest.mark.parametrize(
    "source", [s for s in SOURCES if s.expect != "accept"], ids=lambda s: s.name
)
def test_calibration_refusals_have_the_right_reason(run_analysis, source: Source):
    image = png(photo_rgb(source)) if source.reframed else photo_bytes(source)
    assert refusal(run_analysis, image).reason == source.expect


def test_group_photo_counts_every_face(run_analysis):
    refused = refusal(run_analysis, photo_bytes(BY_NAME["feat_group"]))
    assert refused.reason == "MULTIPLE_FACES"
    assert "5 faces" in refused.metadata["MULTIPLE_FACES"]


def test_sideways_photo_is_told_to_rotate_it(run_analysis):
    sideways = np.ascontiguousarray(np.rot90(rgb_of("feat_surprise")))
    refused = refusal(run_analysis, png(sideways))
    assert refused.reason == "PHOTO_SIDEWAYS"
    assert "rotate the photo upright" in refused.metadata["PHOTO_SIDEWAYS"]


def test_small_upright_face_is_refused_for_its_size_alone(run_analysis):
    canvas = np.full((1600, 1600, 3), 120, np.uint8)
    face = cv2.resize(rgb_of("feat_surprise"), (260, 260), interpolation=cv2.INTER_AREA)
    canvas[600:860, 600:860] = face
    refused = refusal(run_analysis, png(canvas))
    assert refused.metadata["reasons"] == "FACE_TOO_SMALL"


def on_grey_canvas(rgb: np.ndarray, side: int, scale: float) -> bytes:
    """A portrait shrunk by `scale` in the middle of a plain grey side x 3/4 side frame, as JPEG."""
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)[: side * 3 // 4, :side]
    canvas = np.full((side * 3 // 4, side, 3), 128, np.uint8)
    top, left = (canvas.shape[0] - small.shape[0]) // 2, (side - small.shape[1]) // 2
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    return edits.encode(canvas, "JPEG", quality=92)


@pytest.mark.parametrize(
    ("name", "side", "scale"),
    [
        # The detector also found the suit's shoulder (score 0.67): not a second face.
        pytest.param("biden", 3000, 1.0, id="biden-beside-a-shoulder"),
        # A face 2 % of the frame wide: only quarter-size tiles show it to the detector.
        pytest.param("grace_hopper", 3000, 0.35, id="hopper-third-size"),
        pytest.param("obama", 4000, 0.25, id="obama-quarter-size"),
    ],
)
def test_small_face_on_a_large_plain_canvas_is_too_small(run_analysis, name, side, scale):
    refused = refusal(run_analysis, on_grey_canvas(rgb_of(name), side, scale))
    assert refused.reason == "FACE_TOO_SMALL"


@pytest.mark.parametrize("name", ["astronaut", "feat_surprise", "feat_single"])
def test_underexposed_face_is_too_dark(run_analysis, name):
    gain = (2**-2.7) ** (1 / 2.2)  # -2.7 EV, applied to the sRGB values
    refused = refusal(run_analysis, png(edits.gain(rgb_of(name), gain, gain, gain)))
    assert refused.reason == "TOO_DARK"


def test_turned_head_is_measured_in_3d(run_analysis):
    frontal = baseline_pose(run_analysis, "feat_surprise")
    turned = baseline_pose(run_analysis, "feat_turned15")
    assert abs(frontal) < 8 and 8 < abs(turned) < 25


def baseline_pose(run_analysis, name: str) -> float:
    return float(run_analysis(png(rgb_of(name)))["quality"]["yaw_degrees"])


def sixteen_bit_rgba_png(side: int) -> bytes:
    """A valid 16-bit RGBA PNG of side x side, flat grey: tiny on disk, 8 bytes a pixel once
    decoded. Written row by row so the test never holds the pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x80\x00" * 4 * side
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_decoded_byte_budget_is_checked_before_decoding(run_analysis):
    # 25 MP is within the pixel limit, but 16-bit RGBA would take 191 MiB to decode.
    refused = refusal(run_analysis, sixteen_bit_rgba_png(5000))
    assert refused.reason == "IMAGE_TOO_LARGE"
    assert "MiB to decode" in refused.message


@pytest.mark.parametrize("source", [s for s in SOURCES if s.age is not None], ids=lambda s: s.name)
def test_age_is_estimated_from_the_photo_within_12_years(run_analysis, source: Source):
    image = png(photo_rgb(source))
    estimate = run_analysis(image, real_age=None)["age_estimate"]
    assert abs(estimate["years"] - source.age) <= 12, estimate
    low, high = estimate["range_years"]
    assert low <= estimate["years"] <= high
    # The declared age plays no part.
    assert run_analysis(image, real_age=20)["age_estimate"] == estimate


@pytest.mark.parametrize("name", ["feat_surprise", "obama"])
def test_reported_noise_follows_the_added_noise(run_analysis, name):
    clean = run_analysis(png(rgb_of(name)))["quality"]["noise_sigma"]
    noisy = run_analysis(png(edits.add_noise(rgb_of(name), 6.0)))["quality"]["noise_sigma"]
    # Per-channel noise of sigma 6 is ~4 grey levels of luma; it adds in quadrature to the
    # photo's own grain.
    assert noisy**2 - clean**2 >= 3.0**2, (clean, noisy)


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_reported_blocking_follows_jpeg_quality(run_analysis, name):
    def blockiness(image: bytes) -> float | None:
        return run_analysis(image)["quality"]["jpeg_blockiness"]

    rgb = rgb_of(name)
    fine, coarse = (blockiness(edits.encode(rgb, "JPEG", q)) for q in (95, 25))
    assert fine is not None and coarse is not None
    assert coarse >= fine + 0.25, (fine, coarse)
    assert blockiness(png(rgb)) is None  # no block grid to measure


@pytest.mark.parametrize("name", ["obama", "feat_happy"])
def test_landmarks_do_not_move_with_exposure_or_white_balance(face_model: FaceModel, name):
    # The landmark model sees each channel stretched to its own range, so a camera setting that
    # scales the channels leaves the regions where they were.
    rgb = rgb_of(name)
    base = face_model.landmark_sets(rgb)[0][:, :2]
    ipd = float(np.linalg.norm(base[473] - base[468]))
    for edit in ((1.08, 1.0, 0.92), (0.85, 0.85, 0.85)):
        moved = face_model.landmark_sets(edits.gain(rgb, *edit))[0][:, :2]
        assert float(np.abs(moved - base).mean()) <= 0.002 * ipd, edit


@pytest.mark.parametrize("name", ["astronaut", "feat_happy", "obama"])
def test_warm_indoor_light_keeps_the_skin_tone(run_analysis, baselines, name):
    """Tungsten-like light (sRGB R x1.15, B x0.8: the white's cast more than doubles) is undone
    from the whites of the eyes: the angle stays within 8 degrees, where uncorrected it falls by
    about 15, and neither photo blames the light's colour for its confidence."""
    before = baseline(run_analysis, baselines, name)["skin_tone"]
    after = run_analysis(png(edits.gain(rgb_of(name), 1.15, 1.0, 0.8)))["skin_tone"]
    for tone in (before, after):
        assert tone["reference"] == "sclera", tone
        assert tone["confidence_reason"] is None or (
            tone["confidence_reason"]["code"] == "BETWEEN_CATEGORIES"
        ), tone
    assert abs(after["ita_degrees"] - before["ita_degrees"]) <= 8.0, (before, after)


def test_skin_tone_without_a_white_says_its_confidence_is_low(run_analysis, baselines):
    """Grace Hopper's scan shows no white of the eyes behind her glasses (what is taken for it
    is as red as her skin): the category is reported with low confidence and the reason."""
    tone = baseline(run_analysis, baselines, "grace_hopper")["skin_tone"]
    assert tone["reference"] == "none" and tone["confidence"] == "low"
    assert tone["confidence_reason"]["code"] == "NO_WHITE_REFERENCE"


def test_skin_tone_in_a_dim_room_says_its_confidence_is_low(run_analysis, baselines):
    """Obama standing in a dim office: the whites are found but dim, so L* (and the angle) is
    the exposure's as much as the skin's; the result says so instead of a confident category."""
    tone = baseline(run_analysis, baselines, "obama_full_length")["skin_tone"]
    assert tone["confidence"] == "low", tone
    assert tone["confidence_reason"]["code"] == "DIM_LIGHT"


@pytest.mark.parametrize("name", ["obama_speaking", "feat_turned15", "feat_happy"])
def test_a_deeper_complexion_in_the_same_light_is_measured_like_the_light_one(
    run_analysis, baselines, face_model, name
):
    # The skin alone as if it reflected less (L* + 16 x 0.75, b* + 6), the whites of the eyes
    # unchanged: the tone falls by tens of degrees, the photo is not "too dark", and the
    # concerns that are not about tone stay where they were.
    rgb = rgb_of(name)
    before = baseline(run_analysis, baselines, name)
    darker = run_analysis(png(edits.darken_skin(rgb, edits.face_landmarks(rgb, face_model))))
    assert darker["skin_tone"]["ita_degrees"] < before["skin_tone"]["ita_degrees"] - 30
    old, new = scores(before), scores(darker)
    moves = {c: abs(new[c] - old[c]) for c in old if c != "tone_unevenness"}
    assert max(moves.values()) <= MAX_CAMERA_MOVE, moves
