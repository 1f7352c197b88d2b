"""Brightness family: tone-curve brighten/darken and an additive mean shift."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._image import apply_lut, frozen
from .spec import DistortionFn, DistortionSpec, Param, levels_from

_RAMP = frozen(np.arange(256, dtype=np.float64) / 255.0)  # (256,)


def _gamma(img: np.ndarray, gamma: float) -> np.ndarray:
    """Per-channel power curve y = x ** gamma on 0..1 (black and white stay fixed)."""
    return apply_lut(img, 255.0 * _RAMP**gamma)


def brighten(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Over-exposure look: power curve with p['gamma'] < 1 lifts shadows and mid-tones."""
    return _gamma(img, float(p["gamma"]))


def darken(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Under-exposure look: power curve with p['gamma'] > 1 crushes shadows and mid-tones."""
    return _gamma(img, float(p["gamma"]))


def mean_shift(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Add a constant p['shift'] (fraction of 255) to every channel, clipping highlights."""
    return apply_lut(img, 255.0 * (_RAMP + float(p["shift"])))


ENTRIES: tuple[tuple[DistortionSpec, DistortionFn], ...] = (
    (
        DistortionSpec(
            "brighten", "brightness", "exposure", "over",
            levels_from(gamma=(0.8, 0.65, 0.5, 0.38, 0.27)),
            "Brightening tone curve y = x**gamma (gamma < 1) per channel; highlights are kept.",
        ),
        brighten,
    ),
    (
        DistortionSpec(
            "darken", "brightness", "exposure", "under",
            levels_from(gamma=(1.25, 1.6, 2.0, 2.6, 3.5)),
            "Darkening tone curve y = x**gamma (gamma > 1) per channel; shadows are crushed.",
        ),
        darken,
    ),
    (
        DistortionSpec(
            "mean_shift", "brightness", "exposure", "over",
            levels_from(shift=(0.05, 0.1, 0.16, 0.24, 0.34)),
            "Additive intensity offset (fraction of full scale), upward; highlights clip to white.",
        ),
        mean_shift,
    ),
)
