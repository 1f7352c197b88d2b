"""Offline weak aesthetic negatives: determinism, geometry of the crops/tilts, colour of washed-out."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from declip_core.training.data.aesthetic_ops import (
    AESTHETIC_NEGATIVES,
    TILT_RANGE_DEG,
    AestheticNegative,
    bad_crop_box,
    inscribed_scale,
    make_aesthetic_negative,
    salient_point,
    tilt_angle,
    tilted_horizon,
)
from declip_core.training.data.texts import PERCEPTUAL_VOCAB, measure_attributes
from declip_core.samples import sample_path


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    with Image.open(sample_path("chelsea")) as im:
        return np.asarray(im.convert("RGB").resize((150, 100)))


def blob_image(cy: float, cx: float, h: int = 120, w: int = 180) -> np.ndarray:
    """Smooth background with one small textured blob centred at (cy, cx) in fractions of the size."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.full((h, w, 3), 90.0)
    img += 20 * (xx / w)[..., None]
    r = np.hypot(yy - cy * h, xx - cx * w)
    checker = ((yy // 3 + xx // 3) % 2) * 200.0
    img[r < 0.08 * w] = np.stack([checker, 255 - checker, checker], axis=-1)[r < 0.08 * w]
    return img.clip(0, 255).astype(np.uint8)


def test_registry_names() -> None:
    assert set(AESTHETIC_NEGATIVES) == {"bad_crop", "tilted_horizon", "washed_out"}
    with pytest.raises(TypeError):
        AESTHETIC_NEGATIVES["x"] = None  # type: ignore[index]


@pytest.mark.parametrize("name", sorted(AESTHETIC_NEGATIVES))
def test_deterministic_per_seed_and_well_formed(photo: np.ndarray, name: str) -> None:
    a = make_aesthetic_negative(photo, name, seed=11)
    b = make_aesthetic_negative(photo, name, seed=11)
    assert isinstance(a, AestheticNegative) and a.weak is True and a.name == name
    assert a.image.shape == photo.shape and a.image.dtype == np.uint8
    assert np.array_equal(a.image, b.image) and a.text == b.text
    assert not a.image.flags.writeable
    assert any(p in a.text for p in PERCEPTUAL_VOCAB["negative_words"][name])
    others = [make_aesthetic_negative(photo, name, seed=s) for s in range(8)]
    assert len({o.image.tobytes() for o in others}) >= 4
    assert not np.array_equal(a.image, photo)


@pytest.mark.parametrize("name", sorted(AESTHETIC_NEGATIVES))
def test_text_variety_over_seeds(photo: np.ndarray, name: str) -> None:
    small = photo[:40, :60].copy()
    texts = {make_aesthetic_negative(small, name, seed=s).text for s in range(50)}
    assert len(texts) >= 20


@pytest.mark.parametrize("where", [(0.5, 0.5), (0.3, 0.7), (0.75, 0.2), (0.2, 0.15)])
def test_bad_crop_edge_cuts_the_salient_blob(where: tuple[float, float]) -> None:
    img = blob_image(*where)
    h, w = img.shape[:2]
    sy, sx = salient_point(img)
    assert math.hypot(sy - where[0] * h, sx - where[1] * w) < 0.08 * w
    for seed in range(10):
        top, left, ch, cw = bad_crop_box(img, np.random.default_rng(seed))
        assert 0 <= top and top + ch <= h and 0 <= left and left + cw <= w
        assert 0.44 <= cw / w <= 0.76 and abs(ch / h - cw / w) < 0.02
        inside_y = top <= sy <= top + ch
        inside_x = left <= sx <= left + cw
        d_vertical_edge = min(abs(sx - left), abs(sx - left - cw))
        d_horizontal_edge = min(abs(sy - top), abs(sy - top - ch))
        cuts = (inside_y and d_vertical_edge <= 0.07 * cw + 1) or (inside_x and d_horizontal_edge <= 0.07 * ch + 1)
        assert cuts, (seed, (sy, sx), (top, left, ch, cw))


def test_tilt_angles_in_range_both_ways() -> None:
    angles = [tilt_angle(np.random.default_rng(s)) for s in range(40)]
    assert all(TILT_RANGE_DEG[0] <= abs(a) <= TILT_RANGE_DEG[1] for a in angles)
    assert min(angles) < 0 < max(angles)


def test_inscribed_scale_keeps_corners_inside() -> None:
    for w, h, a in [(200, 100, 5), (100, 200, 15), (128, 128, 10)]:
        k = inscribed_scale(w, h, a)
        assert 0 < k < 1
        t = math.radians(a)
        for x, y in [(k * w / 2, k * h / 2), (k * w / 2, -k * h / 2)]:
            u, v = x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)
            assert abs(u) <= w / 2 + 1e-9 and abs(v) <= h / 2 + 1e-9


def test_tilted_horizon_has_no_empty_corners_and_tilts_a_line() -> None:
    white = np.full((90, 160, 3), 255, np.uint8)
    for seed in range(5):
        assert tilted_horizon(white, np.random.default_rng(seed)).min() >= 250
    line = white.copy()
    line[43:47] = 0
    for seed in range(5):
        out = tilted_horizon(line, np.random.default_rng(seed)).mean(axis=2)
        cols = (40, 120)
        rows = [np.average(np.arange(90), weights=255.0 - out[:, c]) for c in cols]
        slope = math.degrees(math.atan(abs(rows[1] - rows[0]) / (cols[1] - cols[0])))
        assert TILT_RANGE_DEG[0] - 1 <= slope <= TILT_RANGE_DEG[1] + 1, slope


def test_washed_out_lowers_colour_and_lifts_blacks(photo: np.ndarray) -> None:
    base = measure_attributes(photo)
    for seed in range(5):
        out = make_aesthetic_negative(photo, "washed_out", seed).image
        got = measure_attributes(out)
        assert got.colourfulness < 0.7 * base.colourfulness
        assert got.contrast < base.contrast
        assert out.min() >= int(0.12 * 255) - 1


@pytest.mark.parametrize("img,name,seed", [
    (np.zeros((32, 32, 3), np.uint8), "nope", 0),
    (np.zeros((32, 32, 3), np.uint8), "bad_crop", -1),
    (np.zeros((32, 32, 3), np.uint8), "bad_crop", 1.5),
    (np.zeros((32, 32, 3), np.uint8), "bad_crop", True),
    (np.zeros((32, 32, 3), np.float32), "washed_out", 0),
    (np.zeros((32, 32), np.uint8), "washed_out", 0),
    (np.zeros((8, 32, 3), np.uint8), "tilted_horizon", 0),
])
def test_bad_inputs_raise(img: np.ndarray, name: str, seed: object) -> None:
    with pytest.raises(ValueError):
        make_aesthetic_negative(img, name, seed)  # type: ignore[arg-type]
