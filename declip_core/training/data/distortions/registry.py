"""The read-only registry of distortion types (KADID-10k order) and their implementations."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from . import blur, brightness, color, compression, noise, sharpness, spatial
from .spec import N_LEVELS, DistortionFn, DistortionSpec

# The 25 KADID-10k-style names other code depends on, in KADID's order.
KADID_NAMES: tuple[str, ...] = (
    "gaussian_blur", "lens_blur", "motion_blur",
    "color_diffusion", "color_shift", "color_quantization", "saturate_up", "saturate_down",
    "jpeg2000", "jpeg",
    "white_noise", "white_noise_color", "impulse_noise", "multiplicative_noise", "denoise",
    "brighten", "darken", "mean_shift",
    "jitter", "non_eccentric_patch", "pixelate", "quantization", "color_block",
    "high_sharpen", "contrast_change",
)


def _build() -> tuple[Mapping[str, DistortionSpec], Mapping[str, DistortionFn]]:
    """Collect every module's entries, check names are unique and complete, freeze."""
    entries = blur.ENTRIES + color.ENTRIES + compression.ENTRIES + noise.ENTRIES + brightness.ENTRIES
    entries += spatial.ENTRIES + sharpness.ENTRIES
    by_name = {spec.name: (spec, fn) for spec, fn in entries}
    if len(by_name) != len(entries):
        raise ValueError("duplicate distortion names in the registry")
    missing = set(KADID_NAMES) - set(by_name)
    if missing:
        raise ValueError(f"registry lacks required distortion types {sorted(missing)}")
    order = KADID_NAMES + tuple(sorted(set(by_name) - set(KADID_NAMES)))
    specs = MappingProxyType({n: by_name[n][0] for n in order})
    fns = MappingProxyType({n: by_name[n][1] for n in order})
    return specs, fns


DISTORTIONS, _FUNCTIONS = _build()


def get_spec(name: str) -> DistortionSpec:
    """The spec of a registered type; ValueError naming the valid types otherwise."""
    if not isinstance(name, str) or name not in DISTORTIONS:
        raise ValueError(f"unknown distortion {name!r}; expected one of {tuple(DISTORTIONS)}")
    return DISTORTIONS[name]


def get_function(name: str) -> DistortionFn:
    """The implementation of a registered type."""
    get_spec(name)
    return _FUNCTIONS[name]


def check_level(level: object) -> int:
    """Validate a severity level (int in 1..5)."""
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 1 <= level <= N_LEVELS:
        raise ValueError(f"level must be an int in 1..{N_LEVELS}, got {level!r}")
    return int(level)
