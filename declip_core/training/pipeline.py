"""From a built I&2T set to training arrays: cached backbone features, cached text features, keys."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from declip_core.backbones import Backbone
from declip_core.training.data.manifest import Row
from declip_core.model import select_features
from declip_core.training.disentangler import TrainArrays
from declip_core.training.feature_cache import FeatureCache, TextCache

import torch


@dataclass
class Encoded:
    """Backbone features of some rows, split into pooled and stats parts."""

    pooled: np.ndarray  # (N, image_dim)
    stats: np.ndarray  # (N, stats_dim)

    def select(self, features: str) -> np.ndarray:
        return select_features(torch.from_numpy(self.pooled), torch.from_numpy(self.stats), features).numpy()


def encode_rows(rows: Sequence[Row], backbone: Backbone, cache_dir: str | Path, progress: bool = False) -> Encoded:
    """Frozen-backbone features of rows (from the cache when present)."""
    cache = FeatureCache(cache_dir, backbone)
    v = cache.get([r["sample_id"] for r in rows], [r.path for r in rows], progress=progress)
    d = backbone.info.image_dim
    return Encoded(pooled=v[:, :d], stats=v[:, d:])


def _ids(values: Sequence[str]) -> np.ndarray:
    table: dict[str, int] = {}
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)


def train_arrays(rows: Sequence[Row], enc: Encoded, backbone: Backbone, cache_dir: str | Path, features: str,
                 progress: bool = False) -> TrainArrays:
    """TrainArrays for the disentangler: features, text features, perceptual and content keys."""
    texts = TextCache(cache_dir, backbone)
    tp = texts.get([r["perceptual_text"] for r in rows], progress=progress)
    ts = texts.get([r["semantic_text"] for r in rows], progress=progress)
    return TrainArrays(feats=enc.select(features), perc_text=tp, sem_text=ts,
                       perc_keys=_ids([r["perc_key"] for r in rows]), sem_keys=_ids([r["photo_id"] for r in rows]),
                       dist_keys=_ids([dist_class(r) for r in rows]))


def dist_class(row: Row) -> str:
    """Coarse perceptual class of a row: its first distortion type, the aesthetic op, or 'clean'."""
    if row.chain:
        return row.chain[0][0]
    return row["perc_key"].split(":")[0] if row["perc_key"].startswith("aes_neg") else row["perc_key"] or "clean"
