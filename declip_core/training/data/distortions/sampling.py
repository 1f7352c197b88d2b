"""Random distortion chains for training-set synthesis."""
from __future__ import annotations

from collections.abc import Collection

import numpy as np

from .registry import DISTORTIONS, get_spec
from .spec import N_LEVELS, Applied

# Chains run in the order a photo meets them: optics, tone, colour, sensor noise, artefacts, codec.
FAMILY_STAGE: tuple[str, ...] = (
    "blur", "brightness", "sharpness_contrast", "color", "noise", "spatial", "compression",
)


def sample_chain(
    rng: np.random.Generator, n_min: int = 1, n_max: int = 3, exclude: Collection[str] = ()
) -> tuple[Applied, ...]:
    """Draw n in [n_min, n_max] distinct types, at most one per perceptual attribute
    (so never brighten + darken, blur + sharpen, two noises), each at a uniform level 1..5.

    Types are visited in a random order and kept when their attribute is new, so the first
    pick is uniform over types. Steps are sorted by FAMILY_STAGE.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    for v in (n_min, n_max):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"n_min and n_max must be ints, got {n_min!r}, {n_max!r}")
    if not 0 <= n_min <= n_max:
        raise ValueError(f"need 0 <= n_min <= n_max, got n_min={n_min}, n_max={n_max}")
    if isinstance(exclude, str):
        raise ValueError(f"exclude must be a collection of names, not the string {exclude!r}")
    excluded = {get_spec(name).name for name in exclude}
    names = [n for n in DISTORTIONS if n not in excluded]
    n_attrs = len({DISTORTIONS[n].attribute for n in names})
    if n_max > n_attrs:
        raise ValueError(f"n_max={n_max} exceeds the {n_attrs} attributes left after exclusions")
    n = int(rng.integers(n_min, n_max + 1))
    chosen: list[str] = []
    used: set[str] = set()
    for i in rng.permutation(len(names)):
        spec = DISTORTIONS[names[i]]
        if len(chosen) == n:
            break
        if spec.attribute not in used:
            chosen.append(spec.name)
            used.add(spec.attribute)
    levels = rng.integers(1, N_LEVELS + 1, size=len(chosen))
    steps = [Applied(name, int(lvl)) for name, lvl in zip(chosen, levels, strict=True)]
    steps.sort(key=lambda a: FAMILY_STAGE.index(DISTORTIONS[a.name].family))
    return tuple(steps)
