"""Region-limited distortions (declip_core.training.data.distortions.regions): masks and blending."""
from __future__ import annotations

import numpy as np
import pytest

from declip_core.training.data.distortions.regions import REGION_KINDS, apply_region_distortion, region_mask


@pytest.mark.parametrize("kind", REGION_KINDS)
def test_mask_range_shape_determinism(kind):
    m = region_mask(90, 120, kind, seed=3)
    assert m.shape == (90, 120) and m.dtype == np.float32
    assert 0.0 <= m.min() and m.max() <= 1.0
    assert 0.05 < m.mean() < 0.85  # a region, neither empty nor the whole frame
    assert np.array_equal(m, region_mask(90, 120, kind, seed=3))


@pytest.mark.parametrize("kind,inside,outside", [
    ("half_left", (45, 10), (45, 110)), ("half_right", (45, 110), (45, 10)),
    ("half_top", (5, 60), (85, 60)), ("half_bottom", (85, 60), (5, 60)),
    ("quadrant_tl", (5, 5), (85, 115)), ("quadrant_br", (85, 115), (5, 5)),
    ("band_h", (45, 60), (3, 60)), ("band_v", (45, 60), (45, 3)),
    ("radial", (0, 0), (45, 60)), ("outside_centre", (2, 2), (45, 60)),
])
def test_mask_covers_its_region(kind, inside, outside):
    m = region_mask(90, 120, kind)
    assert m[inside] > 0.9 and m[outside] < 0.1


def test_blob_depends_on_seed():
    assert not np.array_equal(region_mask(64, 64, "blob", seed=0), region_mask(64, 64, "blob", seed=1))


def test_distortion_stays_inside_the_mask():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(64, 96, 3), dtype=np.uint8)
    out = apply_region_distortion(img, "gaussian_blur", 4, "half_left")
    assert out.shape == img.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - img.astype(int)).mean(axis=(0, 2))  # per column
    assert diff[:30].mean() > 10 * max(diff[-30:].mean(), 0.1)
    assert np.array_equal(out, apply_region_distortion(img, "gaussian_blur", 4, "half_left"))


def test_severity_grows_inside_the_region():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8)
    d = [np.abs(apply_region_distortion(img, "white_noise", lv, "quadrant_tr").astype(int) - img).mean()
         for lv in range(1, 6)]
    assert all(a < b for a, b in zip(d, d[1:]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown region kind"):
        region_mask(32, 32, "triangle")
    with pytest.raises(ValueError, match=">= 8"):
        region_mask(4, 32, "half_left")
    with pytest.raises(ValueError):
        apply_region_distortion(np.zeros((32, 32, 3), np.uint8), "no_such_type", 1, "half_left")
