"""Measuring generated samples and testing for monotone control: attributes, Spearman, bootstrap intervals."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata

from declip_core.training.data.texts.attributes import measure_attributes


def to_uint8(images01: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in 0..1 -> (B, H, W, 3) uint8."""
    if images01.ndim != 4 or images01.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) images, got {tuple(images01.shape)}")
    return (images01.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def measure_images(images: np.ndarray) -> dict[str, np.ndarray]:
    """uint8 (B, H, W, 3) -> {"sharpness", "noise", "exposure"}: (B,) each, at native resolution.

    sharpness: variance of the Laplacian of luma; noise: Immerkaer sigma of luma (0..255);
    exposure: mean luma in 0..1 (declip_core.training.data.texts.attributes).
    """
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 (B, H, W, 3) images, got {images.dtype} {images.shape}")
    attrs = [measure_attributes(np.ascontiguousarray(im), work_side=None) for im in images]
    return {k: np.array([getattr(a, k) for a in attrs]) for k in ("sharpness", "noise", "exposure")}


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of (R, n) arrays; nan where a row is constant."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=1) / np.where(den > 0, den, 1.0), np.nan)


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); nan when either side is constant."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f"need two 1-D arrays of the same length >= 3, got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("values must be finite")
    return float(_pearson_rows(rankdata(x)[None], rankdata(y)[None])[0])


@dataclass(frozen=True)
class Correlation:
    """Spearman rho and its bootstrap percentile interval (level of `ci`)."""

    rho: float
    lo: float
    hi: float
    n: int
    ci: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return bool(self.lo > 0 or self.hi < 0)

    def fmt(self) -> str:
        return f"{self.rho:+.2f} [{self.lo:+.2f}, {self.hi:+.2f}]"


def bootstrap_spearman(levels: Sequence[int] | np.ndarray, values: Sequence[float] | np.ndarray,
                       n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> Correlation:
    """Spearman(level, value) with a stratified bootstrap interval.

    Samples are resampled with replacement within each requested level (the design stays fixed),
    so the interval reflects sampling variation of the generated images only.
    """
    lv, val = np.asarray(levels), np.asarray(values, dtype=np.float64)
    rho = spearman(lv, val)
    if n_boot < 100 or not 0.5 < ci < 1.0:
        raise ValueError(f"need n_boot >= 100 and 0.5 < ci < 1, got {n_boot}, {ci}")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(lv == u) for u in np.unique(lv)]
    idx = np.concatenate([g[rng.integers(0, len(g), (n_boot, len(g)))] for g in groups], axis=1)  # (R, n)
    order = np.concatenate(groups)
    ranks_l = np.broadcast_to(rankdata(lv[order]), idx.shape)  # levels fixed per stratum
    ranks_v = rankdata(val[idx], axis=1)
    boots = _pearson_rows(np.asarray(ranks_l, dtype=np.float64), ranks_v)
    boots = boots[np.isfinite(boots)]
    if len(boots) == 0:
        return Correlation(rho, float("nan"), float("nan"), len(lv), ci)
    a = (1.0 - ci) / 2
    return Correlation(rho, float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a)), len(lv), ci)


def level_medians(levels: Sequence[int] | np.ndarray, values: Sequence[float] | np.ndarray) -> dict[int, float]:
    """Median value per level, levels ascending."""
    lv, val = np.asarray(levels), np.asarray(values, dtype=np.float64)
    return {int(u): float(np.median(val[lv == u])) for u in np.unique(lv)}


def is_monotone(medians: dict[int, float], direction: int) -> bool:
    """Whether the per-level medians strictly rise (direction +1) or fall (-1) with the level."""
    if direction not in (-1, 1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    v = np.array([medians[k] for k in sorted(medians)])
    return bool(np.all(direction * np.diff(v) > 0))
