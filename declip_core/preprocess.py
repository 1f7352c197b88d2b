"""`PreprocessConfig`: how images become backbone input (a plain dataclass, no dependencies).

Its own module so that the flow is one way: backbones.base -> transforms -> preprocess.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PreprocessConfig:
    """How images become backbone input; stored with every checkpoint."""

    image_size: int
    resize: str  # "shortest" (resize shorter side, then centre crop) or "squash"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PreprocessConfig":
        return cls(
            image_size=int(d["image_size"]),
            resize=str(d["resize"]),
            mean=tuple(float(v) for v in d["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in d["std"]),  # type: ignore[arg-type]
            interpolation=str(d.get("interpolation", "bicubic")),
        )
