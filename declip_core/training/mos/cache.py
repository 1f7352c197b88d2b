"""`PerceptualCache`: per-view perceptual embeddings computed once, stored as .npy shards keyed by the
DeCLIP fingerprint (checkpoint sha256 + backbone key + view policy) and each image's resolved path, mtime
and size. Unreadable images are reported and never cached. `load_and_embed`: datasets -> `Embedded`."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from declip_core.array_cache import ShardedArrayCache
from declip_core.inference import DeCLIP
from declip_core.training.mos.embed import (
    ViewEmbeddings,
    _file_key,
    declip_fingerprint,
    embed_views,
)
from declip_core.training.mos.sets import MosSet, Problem, load_mos_set
from declip_core.views import ViewPolicy

_HERE = "declip_core/training/mos/cache.py"


class PerceptualCache:
    """get(paths) -> (ok indices, ViewEmbeddings of those images, errors path -> reason).

    Layout: <root>/<output>-<fingerprint>/ is a ShardedArrayCache (declip_core.array_cache; file key ->
    the image's (n views, P) block, or (n views, D_in) backbone features with output='features'). A changed file (mtime or size), another DeCLIP or another view policy gives
    another key, so stale embeddings are never read.
    """

    def __init__(self, root: str | Path, declip: DeCLIP, views: ViewPolicy, batch_size: int = 32,
                 workers: int = 1, output: str = "perceptual") -> None:
        if output not in ("perceptual", "features"):
            raise ValueError(f"{_HERE}: output must be 'perceptual' or 'features', got {output!r}")
        self.declip, self.views, self.output = declip, views, output
        self.store = ShardedArrayCache(Path(root) / f"{output}-{declip_fingerprint(declip, views)}")
        self.dir = self.store.dir
        self.batch_size, self.workers = batch_size, workers

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
        stored = set(self.store.index())
        todo = sorted({i for i, k in enumerate(keys) if k is not None and k not in stored})
        if todo:
            ok, parts, errs = embed_views([names[i] for i in todo], self.declip, self.views, self.batch_size,
                                          self.workers, self.output)
            errors.update(errs)
            if ok:
                self.store.put([keys[todo[j]] for j in ok], [p.astype(np.float32) for p in parts])  # type: ignore[misc]
                stored = set(self.store.index())
        keep = [i for i, k in enumerate(keys) if k is not None and k in stored]
        blocks = self.store.get([keys[i] for i in keep])  # type: ignore[misc]  # (n_views_i, P) each
        owner = [r for r, b in enumerate(blocks) for _ in range(len(b))]
        width = self.declip.perceptual_dim if self.output == "perceptual" else self.declip.disentangler.cfg.image_in_dim
        emb = np.concatenate(blocks) if blocks else np.zeros((0, width), np.float32)
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
