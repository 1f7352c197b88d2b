"""Region-limited distortions: a registered distortion applied inside a soft mask, the rest of the image clean.

Real defects are rarely uniform (a soft corner, a noisy shadow, a compressed background, lens fall-off). A
region-limited image is `mask * distorted + (1 - mask) * clean`, where `distorted` is the whole image under
`apply_distortion(img, type, level, seed)` and `mask` is one of the shapes in REGION_KINDS (values in 0..1,
edges feathered). The same (image, type, level, kind, seed) always gives the same output; levels share one
mask, so a ladder differs only in severity inside it.

Kinds (fractions of the image):
  half_left / half_right / half_top / half_bottom   one half
  quadrant_tl / quadrant_tr / quadrant_bl / quadrant_br   one quarter
  band_h / band_v      a band through the middle, 1/3 of the side
  radial               edges and corners, falling to clean at the centre (lens fall-off, soft corners)
  outside_centre       everything outside the centre square of half the shorter side
  blob                 one or two Gaussian blobs at seeded positions (about 1/6 of the area)
"""
from __future__ import annotations

import zlib

import numpy as np
from scipy import ndimage

from .apply import apply_distortion

REGION_KINDS: tuple[str, ...] = (
    "half_left", "half_right", "half_top", "half_bottom",
    "quadrant_tl", "quadrant_tr", "quadrant_bl", "quadrant_br",
    "band_h", "band_v", "radial", "outside_centre", "blob",
)
FEATHER = 0.02  # Gaussian feathering of hard mask edges, as a fraction of the shorter side


def _hard(h: int, w: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    y = (np.arange(h, dtype=np.float64) + 0.5)[:, None] / h  # (H, 1) in 0..1
    x = (np.arange(w, dtype=np.float64) + 0.5)[None, :] / w  # (1, W)
    ones = np.ones((h, w))
    if kind.startswith("half_"):
        side = kind[5:]
        return ones * {"left": x < 0.5, "right": x >= 0.5, "top": y < 0.5, "bottom": y >= 0.5}[side]
    if kind.startswith("quadrant_"):
        q = kind[9:]
        rows = y < 0.5 if q[0] == "t" else y >= 0.5
        cols = x < 0.5 if q[1] == "l" else x >= 0.5
        return ones * (rows & cols)
    if kind == "band_h":
        return ones * (np.abs(y - 0.5) < 1 / 6)
    if kind == "band_v":
        return ones * (np.abs(x - 0.5) < 1 / 6)
    if kind == "radial":
        r = np.sqrt(((y - 0.5) * 2) ** 2 + ((x - 0.5) * 2) ** 2) / np.sqrt(2)  # 0 centre .. 1 corners
        return np.clip((r - 0.35) / 0.5, 0.0, 1.0) ** 1.5 * ones
    if kind == "outside_centre":
        s = min(h, w) / 2
        yy, xx = (np.arange(h)[:, None] + 0.5 - h / 2), (np.arange(w)[None, :] + 0.5 - w / 2)
        return ones * ~((np.abs(yy) < s / 2) & (np.abs(xx) < s / 2))
    if kind == "blob":
        s = min(h, w)
        yy, xx = np.arange(h)[:, None] + 0.5, np.arange(w)[None, :] + 0.5  # pixel centres
        m = np.zeros((h, w))
        for _ in range(int(rng.integers(1, 3))):
            cy, cx = rng.uniform(0.2, 0.8, size=2)
            sig = rng.uniform(0.12, 0.2) * s
            m = np.maximum(m, np.exp(-(((yy - cy * h) ** 2 + (xx - cx * w) ** 2) / (2 * sig**2))))
        return np.clip((m - 0.3) / 0.4, 0.0, 1.0)
    raise ValueError(f"unknown region kind {kind!r}; expected one of {REGION_KINDS}")


def region_mask(h: int, w: int, kind: str, seed: int = 0) -> np.ndarray:
    """(H, W) float32 mask in 0..1 (1 = distorted) of a region kind, feathered by FEATHER x the shorter side.

    Raises ValueError for an unknown kind or a side < 8 px."""
    if h < 8 or w < 8:
        raise ValueError(f"image sides must be >= 8 px, got {(h, w)}")
    rng = np.random.default_rng([int(seed), zlib.crc32(kind.encode())])
    m = _hard(h, w, kind, rng)
    if kind not in ("radial", "blob"):
        m = ndimage.gaussian_filter(m, sigma=max(1.0, FEATHER * min(h, w)), mode="nearest")
    return np.clip(m, 0.0, 1.0).astype(np.float32)


def apply_region_distortion(img: np.ndarray, name: str, level: int, kind: str, seed: int = 0) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> uint8 (H, W, 3): distortion `name` at `level` (1..5) inside the `kind` mask.

    Raises ValueError for an unknown type, level, kind or a non-RGB-uint8 image (apply_distortion's checks)."""
    out = apply_distortion(img, name, level, seed=seed).astype(np.float32)
    m = region_mask(img.shape[0], img.shape[1], kind, seed)[..., None]  # (H, W, 1)
    mixed = m * out + (1.0 - m) * img.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
