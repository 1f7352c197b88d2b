"""`PerceptualCache`: per-view perceptual embeddings computed once, stored as .npy shards keyed by the
DeCLIP fingerprint (checkpoint sha256 + backbone key + view policy) and each image's resolved path, mtime
and size. Unreadable images are reported and never cached. `load_and_embed`: datasets -> `Embedded`."""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from declip_core.inference import DeCLIP
from declip_core.iqa.views import ViewPolicy
from declip_core.training.mos.embed import ViewEmbeddings, _file_key, declip_fingerprint, embed_views
from declip_core.training.mos.sets import MosSet, Problem, load_mos_set

_HERE = "declip_core/training/mos/cache.py"


class PerceptualCache:
    """get(paths) -> (ok indices, ViewEmbeddings of those images, errors path -> reason).

    Layout: <root>/perceptual-<fingerprint>/index.json (file key -> [shard, first row, n views]) and
    shard .npy files. A changed file (mtime or size), another DeCLIP or another view policy gives
    another key, so stale embeddings are never read.
    """

    def __init__(self, root: str | Path, declip: DeCLIP, views: ViewPolicy, batch_size: int = 32,
                 workers: int = 1) -> None:
        self.declip, self.views = declip, views
        self.dir = Path(root) / f"perceptual-{declip_fingerprint(declip, views)}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.batch_size, self.workers = batch_size, workers

    def _index(self) -> dict[str, list[Any]]:
        f = self.dir / "index.json"
        if not f.is_file():
            return {}
        try:
            return json.loads(f.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{_HERE}: cache index {f} is corrupt ({e}); delete {self.dir} to rebuild it") from e

    def _store(self, keys: list[str], parts: list[np.ndarray]) -> None:
        shard = f"shard-{uuid.uuid4().hex[:12]}.npy"
        tmp = self.dir / (shard + ".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, np.concatenate(parts).astype(np.float32))
        os.replace(tmp, self.dir / shard)
        idx = self._index()  # re-read: another process may have added entries meanwhile
        start = 0
        for k, part in zip(keys, parts):
            idx[k] = [shard, start, len(part)]
            start += len(part)
        tmp_idx = self.dir / f"index.json.{uuid.uuid4().hex[:8]}.tmp"
        tmp_idx.write_text(json.dumps(idx))
        os.replace(tmp_idx, self.dir / "index.json")

    def get(self, paths: Sequence[str | Path]) -> tuple[np.ndarray, ViewEmbeddings, dict[str, str]]:
        """View embeddings of the readable paths (computing and storing the missing ones)."""
        names = [str(p) for p in paths]
        errors: dict[str, str] = {}
        keys: list[str | None] = []
        for p in names:
            try:
                keys.append(_file_key(p))
            except OSError as e:
                keys.append(None)
                errors[p] = f"cannot stat file ({e.strerror or e})"
        idx = self._index()
        todo = sorted({i for i, k in enumerate(keys) if k is not None and k not in idx})
        if todo:
            ok, parts, errs = embed_views([names[i] for i in todo], self.declip, self.views, self.batch_size,
                                          self.workers)
            errors.update(errs)
            if ok:
                self._store([keys[todo[j]] for j in ok], parts)  # type: ignore[misc]
                idx = self._index()
        keep = [i for i, k in enumerate(keys) if k is not None and k in idx]
        shards = {s: np.load(self.dir / s, mmap_mode="r") for s in {idx[keys[i]][0] for i in keep}}  # type: ignore[index]
        rows, owner = [], []
        for r, i in enumerate(keep):
            s, start, n = idx[keys[i]]  # type: ignore[index]
            rows.append(np.asarray(shards[s][start:start + n]))
            owner += [r] * n
        emb = np.concatenate(rows) if rows else np.zeros((0, self.declip.perceptual_dim), np.float32)
        return np.asarray(keep, dtype=np.int64), ViewEmbeddings(emb.astype(np.float32),
                                                                np.asarray(owner, dtype=np.int64)), errors


@dataclass
class Embedded:
    """A dataset, the view embeddings of its readable images and every problem met."""

    set: MosSet
    views: ViewEmbeddings  # images numbered as in set.paths
    problems: list[Problem] = field(default_factory=list)


def _default_cache_dir() -> Path:
    from declip_core.pretrained import cache_dir

    return cache_dir() / "perceptual"


def load_and_embed(specs: Sequence[str], declip: DeCLIP, views: ViewPolicy, cache_dir: str | Path | None = None,
                   split: str | None = None, batch_size: int = 32, workers: int = 1) -> dict[str, Embedded]:
    """name -> Embedded for each spec (a repeated dataset name gets '#2', '#3', ...)."""
    if not specs:
        raise ValueError(f"{_HERE}: give at least one dataset spec ('name:/path/to/root')")
    cache = PerceptualCache(cache_dir or _default_cache_dir(), declip, views, batch_size, workers)
    out: dict[str, Embedded] = {}
    for spec in specs:
        base = spec.partition(":")[0].strip()
        name, n = base, 1
        while name in out:
            n += 1
            name = f"{base}#{n}"
        mos_set, problems = load_mos_set(spec, split=split, name=name)
        ok, emb, errors = cache.get(mos_set.paths)
        problems += sorted(errors.items())
        if len(ok) < 2:
            raise ValueError(f"{_HERE}: {spec!r}: only {len(ok)} readable image(s) of {len(mos_set.paths)} "
                             f"(first problems: {problems[:3]})")
        out[name] = Embedded(mos_set.subset(ok), emb, problems)
    return out
