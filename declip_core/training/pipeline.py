"""From a built I&2T set to training arrays: cached backbone features, cached text features, keys."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from declip_core.backbones import Backbone
from declip_core.training.data.manifest import Row
from declip_core.model import select_features
from declip_core.training.disentangler import TrainArrays
from declip_core.training.feature_cache import FeatureCache, TextCache

import torch

if TYPE_CHECKING:
    from declip_core.training.config import TrainConfig


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


def training_rows(cfg: "TrainConfig", log: Callable[[str], None] | None = None) -> list[Row]:
    """The disentangler's training rows of a config: the train split of `data.i2t_dir`, then the rows of each
    `data.extra_train_dirs` set whose sample_id is new, cut by `subset_by_crop`, plus the crops listed in
    `data.train_crops_file`. `log` gets one line per extra set."""
    from declip_core.training.data.manifest import read_manifest

    all_train = read_manifest(cfg.data.i2t_dir, splits=["train"])
    seen = {r["sample_id"] for r in all_train}
    for extra in cfg.data.extra_train_dirs:  # e.g. more severity ladders of the same crops (another build seed)
        more = [r for r in read_manifest(extra, splits=["train"]) if r["sample_id"] not in seen]
        seen.update(r["sample_id"] for r in more)
        all_train += more
        if log:
            log(f"{extra}: {len(more)} more training rows")
    rows = subset_by_crop(all_train, cfg.data.max_train_crops, per_photo=cfg.data.max_train_crops_per_photo)
    if cfg.data.train_crops_file:
        extra_crops = set(Path(cfg.data.train_crops_file).read_text().split())
        chosen = {r.data.get("crop_id") for r in rows}
        rows += [r for r in all_train if r.data.get("crop_id") in extra_crops and r.data.get("crop_id") not in chosen]
    return rows


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
