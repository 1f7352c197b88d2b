"""Frozen-backbone features computed once per image and kept in memory-mapped shards.

Layout: <root>/<key>/ is a ShardedArrayCache (declip_core.array_cache: index.json + .npy shards),
where <key> hashes everything the features depend on (backbone spec and weight sha256, preprocessing, cache format). A different backbone or
preprocessing gives a different key, so stale features are never read ("invalidation").
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from declip_core.array_cache import ShardedArrayCache
from declip_core.backbones import Backbone
from declip_core.backbones.base import encode_pooled_stats
from declip_core.embed import decode_stream
from declip_core.transforms import normalize01

CACHE_VERSION = 1


TEXT_ENCODING = 2  # 2: each text's MiniLM features independent of its batch (backbones/minilm.py); 1: padded batches


def backbone_key(backbone: Backbone, what: str = "image") -> str:
    """Hash of what the cached features depend on."""
    info = backbone.info
    ident = {
        "v": CACHE_VERSION,
        "what": what,
        "spec": info.spec,
        "sha256": info.sha256,
        "weights": info.weight_source if what == "image" else info.text_weight_source,
        "preprocess": info.preprocess.to_dict() if (info.preprocess and what == "image") else None,
        "dims": [info.image_dim, info.stats_dim, info.text_dim],
        "extra": info.extra,
    }
    if what == "text":  # text features made by the encoding that gives each text the same bits in any batch
        ident["text_encoding"] = TEXT_ENCODING
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


class FeatureCache:
    """get(ids, paths) -> (N, D) float32 array of features (pooled then stats), cached in a
    ShardedArrayCache (declip_core.array_cache) under <root>/<backbone key>/."""

    def __init__(self, root: str | Path, backbone: Backbone, batch_size: int = 32, workers: int = 1,
                 chunk: int = 1024) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.chunk = chunk  # images computed and stored (one shard) at a time
        self.backbone = backbone
        self.key = backbone_key(backbone, "image")
        self.store = ShardedArrayCache(Path(root) / self.key)
        self.dir = self.store.dir
        self.batch_size, self.workers = batch_size, workers
        self.dim = backbone.info.image_dim + backbone.info.stats_dim
        (self.dir / "backbone.json").write_text(json.dumps(backbone.info.to_dict(), indent=2, default=str))

    def missing(self, ids: Sequence[str]) -> list[str]:
        return self.store.missing(ids)

    @torch.no_grad()
    def _compute(self, paths: Sequence[Path], progress: bool) -> np.ndarray:
        """(N, D) float32 features of image files, decoded by the one decode path (declip_core.embed.decode_stream:
        declip_core.io.load_image, then the backbone's PIL resize); raises ValueError naming a bad file."""
        cfg = self.backbone.info.preprocess
        if cfg is None:
            raise ValueError(f"backbone {self.backbone.info.spec!r} has no preprocessing config")
        out = np.empty((len(paths), self.dim), dtype=np.float32)
        it = decode_stream([str(p) for p in paths], cfg, [None], self.batch_size, self.workers)
        if progress:
            from tqdm import tqdm

            it = tqdm(it, desc="backbone features", unit="batch", total=-(-len(paths) // self.batch_size))
        for items in it:
            bad = [d for d in items if d.error is not None]
            if bad:
                raise ValueError(f"{bad[0].key}: {bad[0].error}")
            x = torch.cat([d.views[0] for d in items])  # (b, 3, S, S) in 0..1
            # normalize01 of the decoded views = backbone.preprocess of the PIL image
            pooled, stats = encode_pooled_stats(self.backbone, normalize01(x, cfg))
            out[items[0].index : items[0].index + len(items)] = torch.cat([pooled, stats], dim=1).float().numpy()
        return out

    def get(self, ids: Sequence[str], paths: Sequence[Path], progress: bool = False) -> np.ndarray:
        """Features for ids (computing the missing ones from paths): (N, D) float32."""
        if len(ids) != len(paths):
            raise ValueError(f"got {len(ids)} ids but {len(paths)} paths")
        where = dict(zip(ids, paths))
        todo = self.store.missing(ids)
        # stored chunk by chunk, so an interrupted run (Ctrl-C) keeps every finished chunk and resumes after it
        for i in range(0, len(todo), self.chunk):
            part = todo[i : i + self.chunk]
            self.store.put(part, self._compute([where[k] for k in part], progress))
        return self.store.rows(ids).astype(np.float32)


class TextCache:
    """Frozen text-tower embeddings of strings, cached by text hash: get(texts) -> (T, D_txt)."""

    def __init__(self, root: str | Path, backbone: Backbone, batch_size: int = 256) -> None:
        self.backbone = backbone
        self.store = ShardedArrayCache(Path(root) / ("text-" + backbone_key(backbone, "text")))
        self.dir = self.store.dir
        self.batch_size = batch_size

    @staticmethod
    def _h(t: str) -> str:
        return hashlib.sha256(t.encode("utf-8")).hexdigest()[:24]

    def get(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        keys = [self._h(t) for t in texts]
        by_key = dict(zip(keys, texts))
        todo = sorted(self.store.missing(keys), key=lambda k: by_key[k])
        if todo:
            chunks = []
            rng = range(0, len(todo), self.batch_size)
            if progress:
                from tqdm import tqdm

                rng = tqdm(rng, desc="text features", unit="batch")
            for i in rng:
                batch = [by_key[k] for k in todo[i : i + self.batch_size]]
                chunks.append(self.backbone.encode_text(batch).float().cpu().numpy())
            self.store.put(todo, np.concatenate(chunks))
        return self.store.rows(keys).astype(np.float32)
