"""Typed configuration of the disentangler (stored in every DeCLIP checkpoint)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class DisentanglerConfig:
    backbone: str = "lite"
    image_in_dim: int = 1824  # backbone pooled + stats (or pooled only, see features)
    text_in_dim: int = 384
    features: str = "pooled+stats"  # "pooled", "stats" or "pooled+stats"
    perceptual_dim: int = 128
    semantic_dim: int = 128
    hidden: int = 512
    depth: int = 2
    text_hidden: int = 512
    text_depth: int = 1
    dropout: float = 0.1
    init_temperature: float = 0.07

    def __post_init__(self) -> None:
        if self.features not in ("pooled", "stats", "pooled+stats"):
            raise ValueError(f"features must be 'pooled', 'stats' or 'pooled+stats', got {self.features!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DisentanglerConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def feature_dim(features: str, image_dim: int, stats_dim: int) -> int:
    """Input size of the image projectors for a feature choice."""
    return {"pooled": image_dim, "stats": stats_dim, "pooled+stats": image_dim + stats_dim}[features]
