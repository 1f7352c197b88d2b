"""Spatial family: pixel jitter, displaced patches, pixelation, grey-level quantisation, colour blocks."""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from PIL import Image

from ._image import apply_lut
from .spec import DistortionFn, DistortionSpec, Param, levels_from


def jitter(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Each pixel is replaced by one up to p['amount'] pixels away (uniform, per axis)."""
    h, w = img.shape[:2]
    a = float(p["amount"])
    u = rng.random((2, h, w), dtype=np.float32)  # (2, H, W)
    d = np.rint((2.0 * u - 1.0) * a).astype(np.int64)
    ys = np.clip(np.arange(h)[:, None] + d[0], 0, h - 1)  # (H, W)
    xs = np.clip(np.arange(w)[None, :] + d[1], 0, w - 1)  # (H, W)
    return img[ys, xs]


def _patch_side(img: np.ndarray, frac: float) -> int:
    """Square patch side as a fraction of the shorter image side (>= 2 pixels)."""
    return max(2, round(min(img.shape[:2]) * frac))


def _patch_count(img: np.ndarray, side: int, coverage: float) -> int:
    """How many side x side patches cover about `coverage` of the image area (>= 1)."""
    return max(1, round(coverage * img.shape[0] * img.shape[1] / side**2))


def non_eccentric_patch(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Random patches replaced by copies of nearby patches (offset up to one patch side)."""
    h, w = img.shape[:2]
    s = min(_patch_side(img, float(p["size"])), h - 1, w - 1)
    n = _patch_count(img, s, float(p["coverage"]))
    r = rng.random((n, 4))  # (n, 4): dest y, dest x, offset y, offset x -- rows nest across levels
    ys = (r[:, 0] * (h - s + 1)).astype(int)
    xs = (r[:, 1] * (w - s + 1)).astype(int)
    sy = np.clip(ys + np.rint((2 * r[:, 2] - 1) * s).astype(int), 0, h - s)
    sx = np.clip(xs + np.rint((2 * r[:, 3] - 1) * s).astype(int), 0, w - s)
    out = img.copy()
    for y, x, y0, x0 in zip(ys, xs, sy, sx, strict=True):
        out[y : y + s, x : x + s] = img[y0 : y0 + s, x0 : x0 + s]
    return out


def pixelate(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Mosaic of p['block'] x p['block'] blocks, each the mean of its pixels."""
    h, w = img.shape[:2]
    b = int(p["block"])
    sw, sh = math.ceil(w / b), math.ceil(h / b)
    small = Image.fromarray(img).resize((sw, sh), Image.Resampling.BOX)
    big = small.resize((sw * b, sh * b), Image.Resampling.NEAREST)
    return np.asarray(big)[:h, :w]  # (H, W, 3)


def quantization(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Uniform quantisation of every channel to p['levels'] grey levels (contouring)."""
    n = int(p["levels"])
    step = 255.0 / (n - 1)
    return apply_lut(img, np.rint(np.arange(256) / step) * step)


def color_block(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Uniform random-colour squares (side p['size'] of the shorter side) pasted at random places."""
    h, w = img.shape[:2]
    s = min(_patch_side(img, float(p["size"])), h, w)
    n = _patch_count(img, s, float(p["coverage"]))
    r = rng.random((n, 5))  # (n, 5): y, x, R, G, B -- rows nest across levels
    ys = (r[:, 0] * (h - s + 1)).astype(int)
    xs = (r[:, 1] * (w - s + 1)).astype(int)
    cols = np.rint(r[:, 2:] * 255).astype(np.uint8)  # (n, 3)
    out = img.copy()
    for y, x, c in zip(ys, xs, cols, strict=True):
        out[y : y + s, x : x + s] = c
    return out


ENTRIES: tuple[tuple[DistortionSpec, DistortionFn], ...] = (
    (
        DistortionSpec(
            "jitter", "spatial", "artifacts", "",
            levels_from(amount=(0.7, 1.2, 2.0, 3.5, 6.0)),
            "Pixel jitter: every pixel taken from the neighbour offset by rint(U(-amount, amount)) per axis.",
            stochastic=True,
        ),
        jitter,
    ),
    (
        DistortionSpec(
            "non_eccentric_patch", "spatial", "artifacts", "",
            levels_from(size=(0.06,) * 5, coverage=(0.03, 0.08, 0.16, 0.3, 0.5)),
            "Displaced patches: squares (side = size x shorter side) replaced by a nearby square; "
            "coverage = patch area / image area.",
            stochastic=True,
        ),
        non_eccentric_patch,
    ),
    (
        DistortionSpec(
            "pixelate", "spatial", "artifacts", "",
            levels_from(block=(2, 3, 5, 8, 13)),
            "Mosaic: block x block pixel squares replaced by their mean.",
        ),
        pixelate,
    ),
    (
        DistortionSpec(
            "quantization", "spatial", "artifacts", "",
            levels_from(levels=(20, 12, 8, 5, 3)),
            "Uniform per-channel quantisation to this many levels (false contours, posterisation).",
        ),
        quantization,
    ),
    (
        DistortionSpec(
            "color_block", "spatial", "artifacts", "",
            levels_from(size=(0.05,) * 5, coverage=(0.01, 0.025, 0.05, 0.1, 0.18)),
            "Random solid-colour squares (side = size x shorter side); coverage = square area / image area.",
            stochastic=True,
        ),
        color_block,
    ),
)
