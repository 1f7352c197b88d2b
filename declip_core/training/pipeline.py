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
    from declip_core.training.quality_heads import tech_target

    return TrainArrays(feats=enc.select(features), perc_text=tp, sem_text=ts,
                       perc_keys=_ids([r["perc_key"] for r in rows]), sem_keys=_ids([r["photo_id"] for r in rows]),
                       dist_keys=_ids([dist_class(r) for r in rows]), quality=tech_target(rows).numpy())


def dist_class(row: Row) -> str:
    """Coarse perceptual class of a row: its first distortion type, the aesthetic op, or 'clean'."""
    if row.chain:
        return row.chain[0][0]
    return row["perc_key"].split(":")[0] if row["perc_key"].startswith("aes_neg") else row["perc_key"] or "clean"


def subset_by_crop(rows: Sequence[Row], max_crops: int | None, per_photo: int | None = None) -> list[Row]:
    """Rows of at most `per_photo` source crops per photo and at most `max_crops` crops in all, spread evenly
    over the photos (round-robin); every row of a kept crop is kept, so ladders stay whole. Crops are taken in
    the order of the sha256 of their id, so a photo's choice does not depend on the other photos or on the
    order of the rows (a set can be embedded shard by shard as it is built). Rows without a `crop_id` count
    their photo as one crop. None = no limit."""
    if max_crops is None and per_photo is None:
        return list(rows)
    import hashlib

    key = lambda c: hashlib.sha256(c.encode()).hexdigest()  # noqa: E731
    crops_of: dict[str, set[str]] = {}
    for r in rows:
        crops_of.setdefault(str(r["photo_id"]), set()).add(str(r.data.get("crop_id") or r["photo_id"]))
    order = {p: sorted(cs, key=key)[:per_photo] for p, cs in crops_of.items()}
    photos = sorted(order, key=key)
    keep: set[str] = set()
    depth = 0
    while (max_crops is None or len(keep) < max_crops) and any(len(order[p]) > depth for p in photos):
        for p in photos:
            if len(order[p]) > depth and (max_crops is None or len(keep) < max_crops):
                keep.add(order[p][depth])
        depth += 1
    return [r for r in rows if str(r.data.get("crop_id") or r["photo_id"]) in keep]
