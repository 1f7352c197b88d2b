"""Tests for declip_core.training.data.distortions (25 KADID-style types x 5 levels)."""
from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, features

from declip_core.training.data.distortions import (
    ATTRIBUTES,
    DISTORTIONS,
    FAMILIES,
    FAMILY_STAGE,
    Applied,
    DistortionSpec,
    apply_batch,
    apply_chain,
    apply_distortion,
    fidelity_loss,
    is_strictly_increasing,
    sample_chain,
    severity_curve,
    step_seed,
)
from declip_core.samples import sample_path

REQUIRED = (
    "gaussian_blur", "lens_blur", "motion_blur", "color_diffusion", "color_shift", "color_quantization",
    "saturate_up", "saturate_down", "jpeg2000", "jpeg", "white_noise", "white_noise_color", "impulse_noise",
    "multiplicative_noise", "denoise", "brighten", "darken", "mean_shift", "jitter", "non_eccentric_patch",
    "pixelate", "quantization", "color_block", "high_sharpen", "contrast_change",
)
NAMES = tuple(DISTORTIONS)
STOCHASTIC = tuple(n for n in NAMES if DISTORTIONS[n].stochastic)
DETERMINISTIC = tuple(n for n in NAMES if not DISTORTIONS[n].stochastic)


def _test_image(h: int = 40, w: int = 48, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus texture and an edge: every type has something to act on."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([60 + 120 * xx / w, 50 + 140 * yy / h, 180 - 100 * xx / w], axis=-1)  # (H, W, 3)
    base[: h // 2, : w // 2] += 40.0
    base += rng.normal(0, 12, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def _photo_crop(name: str, size: int = 192) -> np.ndarray:
    """Centre crop of a sample photo, uint8 (size, size, 3), at native pixel scale."""
    with Image.open(sample_path(name)) as im:
        arr = np.asarray(im.convert("RGB"))
    h, w = arr.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(arr[y : y + size, x : x + size])


@pytest.fixture(scope="module")
def photos() -> tuple[np.ndarray, np.ndarray]:
    return _photo_crop("astronaut"), _photo_crop("coffee")


# --- registry -------------------------------------------------------------------------------------------


def test_registry_has_exactly_the_required_names_read_only() -> None:
    assert set(REQUIRED) <= set(DISTORTIONS)
    assert len(DISTORTIONS) >= 25
    assert isinstance(DISTORTIONS, MappingProxyType)
    with pytest.raises(TypeError):
        DISTORTIONS["x"] = DISTORTIONS["jpeg"]  # type: ignore[index]


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_well_formed(name: str) -> None:
    spec = DISTORTIONS[name]
    assert spec.name == name
    assert spec.family in FAMILIES and spec.attribute in ATTRIBUTES
    assert len(spec.levels) == 5 and all(len(lv) > 0 for lv in spec.levels)
    with pytest.raises(TypeError):
        spec.levels[0]["x"] = 1  # type: ignore[index]
    assert spec.description


def test_directions_and_families() -> None:
    want = {"brighten": "over", "darken": "under", "saturate_up": "over", "saturate_down": "under"}
    for name, direction in want.items():
        assert DISTORTIONS[name].direction == direction
    assert DISTORTIONS["contrast_change"].direction in ("over", "under")
    assert {DISTORTIONS[n].family for n in ("gaussian_blur", "lens_blur", "motion_blur")} == {"blur"}
    assert {DISTORTIONS[n].family for n in ("jpeg", "jpeg2000")} == {"compression"}


def test_jpeg2000_records_its_codec() -> None:
    codec = "jpeg2000" if features.check("jpg_2000") else "webp"
    assert all(lv["codec"] == codec for lv in DISTORTIONS["jpeg2000"].levels)


def test_spec_rejects_bad_fields() -> None:
    levels = DISTORTIONS["jpeg"].levels
    with pytest.raises(ValueError, match="family"):
        DistortionSpec("x", "nope", "noise", "", levels, "d")
    with pytest.raises(ValueError, match="attribute"):
        DistortionSpec("x", "noise", "nope", "", levels, "d")
    with pytest.raises(ValueError, match="levels"):
        DistortionSpec("x", "noise", "noise", "", levels[:4], "d")


# --- single distortions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_level_returns_new_uint8_same_shape(name: str) -> None:
    img = _test_image()
    before = img.copy()
    for level in range(1, 6):
        out = apply_distortion(img, name, level, seed=3)
        assert out.dtype == np.uint8 and out.shape == img.shape
        assert out.flags.writeable and not np.shares_memory(out, img)
    np.testing.assert_array_equal(img, before)  # input untouched


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output(name: str) -> None:
    img = _test_image()
    for level in (1, 5):
        np.testing.assert_array_equal(apply_distortion(img, name, level, 7), apply_distortion(img, name, level, 7))


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_types_vary_with_seed(name: str) -> None:
    img = _test_image()
    for level in range(1, 6):
        assert not np.array_equal(apply_distortion(img, name, level, 0), apply_distortion(img, name, level, 1))


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_types_ignore_seed(name: str) -> None:
    img = _test_image()
    np.testing.assert_array_equal(apply_distortion(img, name, 3, 0), apply_distortion(img, name, 3, 12345))


def test_stochastic_flags_cover_the_random_types() -> None:
    assert {"white_noise", "impulse_noise", "jitter", "color_block", "motion_blur"} <= set(STOCHASTIC)


@pytest.mark.parametrize("level", [0, 6, -1, 2.0, True, "3", None])
def test_bad_level_raises(level: object) -> None:
    with pytest.raises(ValueError, match="level"):
        apply_distortion(_test_image(), "jpeg", level)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["nope", "", "JPEG", None])
def test_unknown_name_raises(name: object) -> None:
    with pytest.raises(ValueError, match="unknown distortion"):
        apply_distortion(_test_image(), name, 1)  # type: ignore[arg-type]


def test_grayscale_input_raises_clear_message() -> None:
    gray = _test_image()[..., 0]
    with pytest.raises(ValueError, match=r"grayscale.*RGB"):
        apply_distortion(gray, "jpeg", 1)


@pytest.mark.parametrize(
    "img",
    [
        _test_image().astype(np.float32),
        _test_image().astype(np.uint16),
        np.zeros((40, 48, 4), np.uint8),
        np.zeros((7, 48, 3), np.uint8),
        np.zeros((3, 40, 48), np.uint8),
        _test_image().tolist(),
    ],
    ids=["float32", "uint16", "rgba", "too-small", "chw", "list"],
)
def test_bad_image_raises(img: object) -> None:
    with pytest.raises(ValueError):
        apply_distortion(img, "gaussian_blur", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed_raises(seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        apply_distortion(_test_image(), "white_noise", 1, seed)  # type: ignore[arg-type]


def test_non_contiguous_input_is_accepted() -> None:
    big = _test_image(80, 96)
    view = big[::2, ::2]  # (40, 48, 3), strided
    np.testing.assert_array_equal(apply_distortion(view, "jpeg", 2), apply_distortion(view.copy(), "jpeg", 2))


# --- severity calibration ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_severity_strictly_monotone_on_two_photos(name: str, photos: tuple[np.ndarray, ...]) -> None:
    for img in photos:
        curve = severity_curve(img, name, seed=0)
        assert curve[0] > 0.0, f"{name} level 1 leaves the photo unchanged"
        assert is_strictly_increasing(curve), f"{name}: 1-SSIM per level {curve}"


def test_fidelity_loss_basics() -> None:
    img = _test_image()
    assert fidelity_loss(img, img) == pytest.approx(0.0, abs=1e-12)
    assert fidelity_loss(img, 255 - img) > 0.5
    with pytest.raises(ValueError, match="shapes differ"):
        fidelity_loss(img, _test_image(48, 40))
    assert not is_strictly_increasing((0.1, 0.2, 0.2))


def _chroma_std(img: np.ndarray) -> float:
    f = img.astype(np.float32)
    return float((f - f.mean(axis=2, keepdims=True)).std())


@pytest.mark.parametrize(
    "name, stat, sign",
    [
        ("brighten", lambda a: float(a.mean()), +1),
        ("mean_shift", lambda a: float(a.mean()), +1),
        ("darken", lambda a: float(a.mean()), -1),
        ("saturate_up", _chroma_std, +1),
        ("saturate_down", _chroma_std, -1),
        ("contrast_change", lambda a: float(a.astype(np.float32).mean(axis=2).std()), -1),
    ],
)
def test_direction_matches_effect(name: str, stat: object, sign: int) -> None:
    img = _photo_crop("astronaut", 96)
    for level in (1, 5):
        delta = stat(apply_distortion(img, name, level)) - stat(img)  # type: ignore[operator]
        assert sign * delta > 0, f"{name} L{level}: {delta}"


# --- chains, sampling, batches --------------------------------------------------------------------------


def test_chain_applies_steps_in_order_with_step_seeds() -> None:
    img = _test_image()
    chain = (Applied("gaussian_blur", 2), Applied("white_noise", 3), Applied("jpeg", 4))
    want = img
    for i, step in enumerate(chain):
        want = apply_distortion(want, step.name, step.level, step_seed(5, i))
    got = apply_chain(img, chain, seed=5)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, apply_chain(img, list(chain), seed=5))
    assert not np.array_equal(got, apply_chain(img, chain, seed=6))


def test_empty_chain_returns_equal_copy() -> None:
    img = _test_image()
    out = apply_chain(img, (), seed=0)
    np.testing.assert_array_equal(out, img)
    assert not np.shares_memory(out, img)


@pytest.mark.parametrize(
    "chain",
    [(Applied("jpeg", 1), Applied("nope", 1)), (Applied("jpeg", 1), Applied("jpeg", 9)), (("jpeg", 1),)],
)
def test_bad_chain_raises(chain: tuple[object, ...]) -> None:
    with pytest.raises(ValueError):
        apply_chain(_test_image(), chain)  # type: ignore[arg-type]


def test_sample_chain_respects_constraints() -> None:
    rng = np.random.default_rng(0)
    seen: set[str] = set()
    lengths: set[int] = set()
    for _ in range(3000):
        chain = sample_chain(rng, 1, 3, exclude=("jpeg2000",))
        names = [a.name for a in chain]
        attrs = [DISTORTIONS[n].attribute for n in names]
        stages = [FAMILY_STAGE.index(DISTORTIONS[n].family) for n in names]
        assert 1 <= len(chain) <= 3 and len(set(attrs)) == len(attrs)
        assert "jpeg2000" not in names and not {"brighten", "darken"} <= set(names)
        assert stages == sorted(stages) and all(1 <= a.level <= 5 for a in chain)
        seen.update(names)
        lengths.add(len(chain))
    assert seen == set(NAMES) - {"jpeg2000"}
    assert lengths == {1, 2, 3}


def test_sample_chain_is_reproducible_and_composable() -> None:
    a = sample_chain(np.random.default_rng(11), 2, 4)
    assert a == sample_chain(np.random.default_rng(11), 2, 4)
    out = apply_chain(_test_image(), a, seed=1)
    assert out.shape == (40, 48, 3) and out.dtype == np.uint8


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_min": 3, "n_max": 2},
        {"n_min": -1, "n_max": 2},
        {"n_max": 8},
        {"exclude": ("nope",)},
        {"exclude": "jpeg"},
        {"exclude": ("contrast_change",), "n_max": 7},
        {"n_min": 1.0},
    ],
)
def test_sample_chain_bad_arguments_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        sample_chain(np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]


def test_apply_batch_matches_chains_for_any_worker_count() -> None:
    imgs = [_test_image(seed=i) for i in range(4)]
    rng = np.random.default_rng(3)
    chains = [sample_chain(rng, 1, 3) for _ in imgs]
    seeds = [10, 11, 12, 13]
    want = [apply_chain(i, c, s) for i, c, s in zip(imgs, chains, seeds, strict=True)]
    for workers in (1, 2):
        got = apply_batch(imgs, chains, seeds, workers=workers)
        assert len(got) == 4
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize(
    "seeds, workers", [([1, 2], 1), ([1, 2, 3], 0), ([1, 2, 3], True)], ids=["length", "zero", "bool"]
)
def test_apply_batch_bad_arguments_raise(seeds: list[int], workers: int) -> None:
    imgs = [_test_image()] * 3
    with pytest.raises(ValueError):
        apply_batch(imgs, [()] * 3, seeds, workers=workers)


# --- property test: odd tiny sizes ----------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(8, 40),
    w=st.integers(8, 40),
    level=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
)
def test_all_types_handle_odd_tiny_sizes(h: int, w: int, level: int, seed: int) -> None:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    for name in NAMES:
        out = apply_distortion(img, name, level, seed)
        assert out.shape == (h, w, 3) and out.dtype == np.uint8, name
