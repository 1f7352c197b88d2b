"""Sharpness & contrast family: over-sharpening and contrast reduction."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageFilter

from ._image import luma, to_uint8
from .spec import DistortionFn, DistortionSpec, Param, levels_from


def high_sharpen(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Over-sharpening: unsharp mask of radius p['radius'] and strength p['percent'] (halos, clipping)."""
    f = ImageFilter.UnsharpMask(radius=float(p["radius"]), percent=int(p["percent"]), threshold=0)
    return np.asarray(Image.fromarray(img).filter(f))  # (H, W, 3)


def contrast_change(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Contrast reduction: y = m + k (x - m), m = mean luma, k = p['factor'] < 1 (washed-out look)."""
    m = float(luma(img).mean())
    return to_uint8(m + float(p["factor"]) * (img.astype(np.float32) - m))


ENTRIES: tuple[tuple[DistortionSpec, DistortionFn], ...] = (
    (
        DistortionSpec(
            "high_sharpen", "sharpness_contrast", "sharpness", "over",
            levels_from(radius=(2.0,) * 5, percent=(60, 120, 200, 320, 500)),
            "Over-sharpening: Pillow UnsharpMask (radius px, percent strength, threshold 0).",
        ),
        high_sharpen,
    ),
    (
        DistortionSpec(
            "contrast_change", "sharpness_contrast", "contrast", "under",
            levels_from(factor=(0.78, 0.62, 0.47, 0.33, 0.2)),
            "Contrast reduction towards the mean luma: y = m + factor * (x - m).",
        ),
        contrast_change,
    ),
)
