"""The records that describe distortion types and applied distortions."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

Param = float | int | str
# (uint8 (H, W, 3) image, one level's params, generator) -> uint8 (H, W, 3) image
DistortionFn = Callable[[np.ndarray, Mapping[str, Param], np.random.Generator], np.ndarray]

FAMILIES: tuple[str, ...] = (
    "blur", "color", "compression", "noise", "brightness", "spatial", "sharpness_contrast",
)
ATTRIBUTES: tuple[str, ...] = (
    "sharpness", "noise", "compression", "exposure", "colour", "contrast", "artifacts",
)
DIRECTIONS: tuple[str, ...] = ("", "over", "under")
N_LEVELS = 5


@dataclass(frozen=True)
class DistortionSpec:
    """One distortion type: where it belongs, what it degrades, and its 5 severity levels."""

    name: str
    family: str  # one of FAMILIES
    attribute: str  # one of ATTRIBUTES
    direction: str  # "" or "over"/"under"
    levels: tuple[Mapping[str, Param], ...]  # 5 parameter dicts, level 1 .. level 5
    description: str
    stochastic: bool = False  # True when the output depends on the seed

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: unknown family {self.family!r}; expected one of {FAMILIES}")
        if self.attribute not in ATTRIBUTES:
            raise ValueError(f"{self.name}: unknown attribute {self.attribute!r}; expected one of {ATTRIBUTES}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"{self.name}: unknown direction {self.direction!r}; expected one of {DIRECTIONS}")
        if len(self.levels) != N_LEVELS:
            raise ValueError(f"{self.name}: expected {N_LEVELS} levels, got {len(self.levels)}")


@dataclass(frozen=True)
class Applied:
    """One step of a distortion chain: a registered type at a level in 1..5."""

    name: str
    level: int



def levels_from(**columns: tuple[Param, ...]) -> tuple[Mapping[str, Param], ...]:
    """Turn per-parameter columns of 5 values into 5 read-only level dicts."""
    for key, col in columns.items():
        if len(col) != N_LEVELS:
            raise ValueError(f"parameter {key!r} needs {N_LEVELS} values, got {len(col)}")
    return tuple(MappingProxyType({k: col[i] for k, col in columns.items()}) for i in range(N_LEVELS))
