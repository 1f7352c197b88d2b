"""Graded aesthetic edits (declip_core.training.data.aesthetic_edits): deterministic, size-preserving, graded."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from declip_core.constants import AES_ATTRIBUTES
from declip_core.samples import sample_path
from declip_core.training.data.aesthetic_edits import AESTHETIC_EDITS, GROUPS, apply_aesthetic_edit


@pytest.fixture(scope="module")
def photo():
    with Image.open(sample_path("coffee")) as im:
        return np.asarray(im.convert("RGB").resize((150, 100)))  # (100, 150, 3), not square


@pytest.mark.parametrize("name", list(AESTHETIC_EDITS))
def test_size_preserving_and_deterministic(photo, name):
    for s in (1, 2, 3):
        out = apply_aesthetic_edit(photo, name, s, seed=2)
        assert out.shape == photo.shape and out.dtype == np.uint8 and out.flags.writeable
        assert np.array_equal(out, apply_aesthetic_edit(photo, name, s, seed=2))
        assert not np.array_equal(out, photo)


def _ramp(h: int = 100, w: int = 150) -> np.ndarray:
    """R = x, G = y (0..255): a pixel's value says where in the frame it came from."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 / (w - 1), yy * 255 / (h - 1), np.full((h, w), 128)], -1).round().astype(np.uint8)


@pytest.mark.parametrize("name", [n for n, e in AESTHETIC_EDITS.items() if e.group == "composition"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_composition_graded(name, seed):
    """A stronger composition edit moves content further from where it was in the frame (mean displacement
    read off a coordinate ramp), for every seed (corner, side, sign)."""
    ramp = _ramp()
    d = [np.abs(apply_aesthetic_edit(ramp, name, s, seed=seed).astype(float)[..., :2] - ramp[..., :2]).mean()
         for s in (1, 2, 3)]
    assert d[0] < d[1] < d[2], d


@pytest.mark.parametrize("name", [n for n, e in AESTHETIC_EDITS.items() if e.group != "composition"])
def test_light_and_colour_graded(photo, name):
    """A stronger light or colour edit moves the pixels further from the original (same seed)."""
    d = [np.abs(apply_aesthetic_edit(photo, name, s, seed=5).astype(float) - photo).mean() for s in (1, 2, 3)]
    assert d[0] < d[1] < d[2], d


def test_groups_are_the_aesthetic_attributes():
    assert GROUPS == AES_ATTRIBUTES
    assert {e.group for e in AESTHETIC_EDITS.values()} == set(AES_ATTRIBUTES)


def test_bad_arguments(photo):
    with pytest.raises(ValueError, match="unknown aesthetic edit"):
        apply_aesthetic_edit(photo, "sepia", 1)
    with pytest.raises(ValueError, match="strength"):
        apply_aesthetic_edit(photo, "tilt", 4)
    with pytest.raises(ValueError, match="seed"):
        apply_aesthetic_edit(photo, "tilt", 1, seed=-1)
    with pytest.raises(ValueError, match="uint8"):
        apply_aesthetic_edit(photo.astype(np.float32), "tilt", 1)
