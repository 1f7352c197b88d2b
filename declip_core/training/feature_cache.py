"""Frozen-backbone features computed once per image and kept in memory-mapped shards.

Layout: <root>/<key>/index.json + shard-NNNNN.npy, where <key> hashes everything the features
depend on (backbone spec and weight sha256, preprocessing, cache format). A different backbone or
preprocessing gives a different key, so stale features are never read ("invalidation").
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from declip_core.backbones import Backbone
from declip_core.io import load_image

CACHE_VERSION = 1


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
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


class _Images(torch.utils.data.Dataset):
    def __init__(self, paths: Sequence[Path], backbone: Backbone) -> None:
        self.paths, self.tf = list(paths), backbone.preprocess

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.tf(load_image(self.paths[i]))  # the one decoder (EXIF, alpha on white, 16-bit, CMYK)


class FeatureCache:
    """get(ids, paths) -> (N, D) float32 array of features (pooled then stats)."""

    def __init__(self, root: str | Path, backbone: Backbone, batch_size: int = 32, workers: int = 1) -> None:
        self.backbone = backbone
        self.key = backbone_key(backbone, "image")
        self.dir = Path(root) / self.key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.batch_size, self.workers = batch_size, workers
        self.dim = backbone.info.image_dim + backbone.info.stats_dim
        (self.dir / "backbone.json").write_text(json.dumps(backbone.info.to_dict(), indent=2, default=str))

    def _index(self) -> dict[str, list[int]]:
        f = self.dir / "index.json"
        return json.loads(f.read_text()) if f.is_file() else {}

    def missing(self, ids: Sequence[str]) -> list[str]:
        idx = self._index()
        return [i for i in ids if i not in idx]

    @torch.no_grad()
    def _compute(self, paths: Sequence[Path], progress: bool) -> np.ndarray:
        dl = torch.utils.data.DataLoader(_Images(paths, self.backbone), batch_size=self.batch_size,
                                         num_workers=self.workers, shuffle=False)
        out = np.empty((len(paths), self.dim), dtype=np.float32)
        it = dl
        if progress:
            from tqdm import tqdm

            it = tqdm(dl, desc="backbone features", unit="batch")
        n = 0
        for x in it:
            f = self.backbone.encode_image(x)
            v = torch.cat([f.pooled, f.stats], dim=1).float().numpy()
            out[n : n + len(v)] = v
            n += len(v)
        return out

    def get(self, ids: Sequence[str], paths: Sequence[Path], progress: bool = False) -> np.ndarray:
        """Features for ids (computing the missing ones from paths): (N, D) float32."""
        if len(ids) != len(paths):
            raise ValueError(f"got {len(ids)} ids but {len(paths)} paths")
        idx = self._index()
        todo = [(i, p) for i, p in dict(zip(ids, paths)).items() if i not in idx]
        if todo:
            feats = self._compute([p for _, p in todo], progress)
            shard = len({s for s, _ in idx.values()})
            name = f"shard-{shard:05d}.npy"
            tmp = self.dir / (name + ".tmp")
            with open(tmp, "wb") as fh:
                np.save(fh, feats)
            os.replace(tmp, self.dir / name)
            for r, (i, _) in enumerate(todo):
                idx[i] = [shard, r]
            tmp_idx = self.dir / "index.json.tmp"
            tmp_idx.write_text(json.dumps(idx))
            os.replace(tmp_idx, self.dir / "index.json")
        shards = {s: np.load(self.dir / f"shard-{s:05d}.npy", mmap_mode="r") for s in {idx[i][0] for i in ids}}
        return np.stack([shards[idx[i][0]][idx[i][1]] for i in ids]).astype(np.float32)


class TextCache:
    """Frozen text-tower embeddings of strings, cached by text hash: get(texts) -> (T, D_txt)."""

    def __init__(self, root: str | Path, backbone: Backbone, batch_size: int = 256) -> None:
        self.backbone = backbone
        self.dir = Path(root) / ("text-" + backbone_key(backbone, "text"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size

    @staticmethod
    def _h(t: str) -> str:
        return hashlib.sha256(t.encode("utf-8")).hexdigest()[:24]

    def get(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        idx_f = self.dir / "index.json"
        idx: dict[str, list[int]] = json.loads(idx_f.read_text()) if idx_f.is_file() else {}
        todo = sorted({t for t in texts if self._h(t) not in idx})
        if todo:
            chunks = []
            rng = range(0, len(todo), self.batch_size)
            if progress:
                from tqdm import tqdm

                rng = tqdm(rng, desc="text features", unit="batch")
            for i in rng:
                chunks.append(self.backbone.encode_text(todo[i : i + self.batch_size]).float().cpu().numpy())
            feats = np.concatenate(chunks)
            shard = len({s for s, _ in idx.values()})
            tmp = self.dir / f"shard-{shard:05d}.npy.tmp"
            with open(tmp, "wb") as fh:
                np.save(fh, feats)
            os.replace(tmp, self.dir / f"shard-{shard:05d}.npy")
            for r, t in enumerate(todo):
                idx[self._h(t)] = [shard, r]
            tmp_idx = self.dir / "index.json.tmp"
            tmp_idx.write_text(json.dumps(idx))
            os.replace(tmp_idx, idx_f)
        keys = [self._h(t) for t in texts]
        shards = {s: np.load(self.dir / f"shard-{s:05d}.npy", mmap_mode="r") for s in {idx[k][0] for k in keys}}
        return np.stack([shards[idx[k][0]][idx[k][1]] for k in keys]).astype(np.float32)
