"""The objective fidelity measure used to calibrate and test severity levels."""
from __future__ import annotations

import itertools

import numpy as np
from skimage.metrics import structural_similarity

from ._image import check_image
from .apply import apply_distortion
from .spec import N_LEVELS


def fidelity_loss(ref: np.ndarray, dist: np.ndarray) -> float:
    """1 - SSIM (7x7 window, mean over R, G, B); 0 for identical images, larger = worse."""
    a, b = check_image(ref), check_image(dist)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return 1.0 - float(structural_similarity(a, b, channel_axis=2, data_range=255))


def severity_curve(img: np.ndarray, name: str, seed: int = 0) -> tuple[float, ...]:
    """fidelity_loss of levels 1..5 of one type on one image."""
    return tuple(fidelity_loss(img, apply_distortion(img, name, lvl, seed)) for lvl in range(1, N_LEVELS + 1))


def is_strictly_increasing(values: tuple[float, ...]) -> bool:
    """True when every value exceeds the previous one."""
    return all(b > a for a, b in itertools.pairwise(values))
