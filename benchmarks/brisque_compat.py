"""BRISQUE from PyPI `brisque` 0.2 (which ships its SVM model), working on numpy >= 2.4.

brisque 0.2's `scale_features` calls `float()` on 1-element arrays (its sigma estimates come out
with shape (1,)), which numpy 2.4 rejects with TypeError. `CompatBRISQUE` overrides only that
method, flattening every feature to a float; nothing in site-packages is edited. Lower scores are
better (about 0..100).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from brisque import BRISQUE


def _flat(values: object) -> np.ndarray:
    """A list of scalars and/or 1-element arrays -> 1-D float64 array."""
    return np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in values])  # type: ignore[union-attr]


class CompatBRISQUE(BRISQUE):
    """`brisque.BRISQUE` (numpy arrays in, url=False) with a numpy-2.4-safe feature scaling."""

    def __init__(self) -> None:
        super().__init__(url=False)

    def scale_features(self, features: object) -> np.ndarray:
        f = _flat(features)
        lo, hi = _flat(self.scale_params["min_"]), _flat(self.scale_params["max_"])
        if not (f.shape == lo.shape == hi.shape):
            raise ValueError(f"benchmarks/brisque_compat.py: {f.size} BRISQUE features but the model's "
                             f"scaling has {lo.size} mins and {hi.size} maxes")
        return -1.0 + 2.0 / (hi - lo) * (f - lo)

    def score_array(self, rgb: np.ndarray) -> float:
        """BRISQUE of an (H, W, 3) uint8 RGB image (lower is better)."""
        if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype != np.uint8:
            raise ValueError(f"benchmarks/brisque_compat.py: expected (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
        return float(self.score(rgb))

    def score_file(self, path: str | Path) -> float:
        """BRISQUE of an image file, read with declip_core.io (raises ImageLoadError)."""
        from declip_core.io import load_rgb_array

        return self.score_array(load_rgb_array(path))
