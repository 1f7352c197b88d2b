"""`ShardedArrayCache`: the one on-disk cache of arrays under string keys (numpy + json, no torch).

Layout of a cache folder: `index.json` (key -> [shard file, first row, number of rows]) and `.npy`
shards. Each `put` writes one new shard (a unique name, written to a temporary file and renamed) and
then re-reads and atomically replaces the index, so a reader never sees a half-written shard and two
processes filling the same folder lose no shard (at worst one recomputes a few keys). Shards are
memory-mapped on read.

Used by the backbone-feature and text caches (`declip_core.training.feature_cache`), the MOS
perceptual cache (`declip_core.training.mos.cache`) and the control-demo cache
(`declip_core.training.control_demo.data`). What the arrays depend on (weights, preprocessing, view
policy, ...) belongs in the folder name the caller picks, so a stale cache is never read.

Format: index entries `[shard name, start, n]` (FORMAT = 2). Entries `[shard number, row]` written by
the earlier FeatureCache/TextCache (format 1: `shard-NNNNN.npy`, one row per key) are still read.
"""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 2


class ShardedArrayCache:
    """Arrays stored under string keys in `folder` (created when missing).

    Every key owns a block of rows of one shard: an array (n, *shape) of any dtype, n >= 1.
    """

    def __init__(self, folder: str | Path) -> None:
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ index
    def index(self) -> dict[str, tuple[str, int, int]]:
        """key -> (shard file name, first row, number of rows). Raises ValueError for a corrupt index."""
        f = self.dir / "index.json"
        if not f.is_file():
            return {}
        try:
            raw = json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{f}: cache index is corrupt ({e}); delete {self.dir} to rebuild it") from e
        if not isinstance(raw, dict):
            raise ValueError(f"{f}: cache index is not a JSON object; delete {self.dir} to rebuild it")
        return {k: _entry(v, f) for k, v in raw.items()}

    def missing(self, keys: Sequence[str]) -> list[str]:
        """The keys (unique, in first-seen order) that have no stored rows."""
        idx = self.index()
        return [k for k in dict.fromkeys(keys) if k not in idx]

    # ------------------------------------------------------------------ write
    def put(self, keys: Sequence[str], parts: Sequence[np.ndarray] | np.ndarray) -> None:
        """Store parts[i] under keys[i] in one new shard.

        parts: a sequence of arrays (n_i, *shape), all of one trailing shape and dtype; or one array
        (len(keys), *shape), giving each key one row. A key already stored is replaced.
        Raises ValueError when the counts or shapes do not fit.
        """
        keys = list(keys)
        if isinstance(parts, np.ndarray):
            if len(parts) != len(keys):
                raise ValueError(f"{len(keys)} keys but an array of {len(parts)} rows")
            block, counts = parts, [1] * len(keys)
        else:
            if len(parts) != len(keys):
                raise ValueError(f"{len(keys)} keys but {len(parts)} arrays")
            if any(p.ndim < 1 or len(p) < 1 for p in parts):
                raise ValueError("every key needs at least one row")
            if len({(p.shape[1:], p.dtype) for p in parts}) > 1:
                raise ValueError("all arrays stored together must share their trailing shape and dtype")
            block = parts[0] if len(parts) == 1 else np.concatenate(parts)  # one part (a memmap) is not copied
            counts = [len(p) for p in parts]
        if not keys:
            return
        shard = f"shard-{uuid.uuid4().hex[:12]}.npy"
        tmp = self.dir / f".{shard}.tmp"
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(block))
        os.replace(tmp, self.dir / shard)
        raw = json.loads((self.dir / "index.json").read_text(encoding="utf-8")) if (self.dir / "index.json").is_file() \
            else {}  # re-read: another process may have added entries meanwhile
        start = 0
        for k, n in zip(keys, counts):
            raw[k] = [shard, start, n]
            start += n
        tmp_idx = self.dir / f".index.{uuid.uuid4().hex[:8]}.tmp"
        tmp_idx.write_text(json.dumps(raw), encoding="utf-8")
        os.replace(tmp_idx, self.dir / "index.json")

    # ------------------------------------------------------------------ read
    def get(self, keys: Sequence[str], mmap: bool = False) -> list[np.ndarray]:
        """The stored block (n_k, *shape) of each key, in order: copies, or read-only memory maps
        when mmap=True (for blocks too big for memory). Raises KeyError naming a key not stored."""
        idx = self.index()
        absent = [k for k in keys if k not in idx]
        if absent:
            raise KeyError(f"{self.dir}: {len(absent)} key(s) not cached, e.g. {absent[0]!r}")
        shards: dict[str, Any] = {}
        out = []
        for k in keys:
            name, start, n = idx[k]
            if name not in shards:
                shards[name] = np.load(self.dir / name, mmap_mode="r")
            block = shards[name][start:start + n]
            out.append(block if mmap else np.array(block))
        return out

    def rows(self, keys: Sequence[str]) -> np.ndarray:
        """(len(keys), *shape): the one row of each key stacked. Raises KeyError / ValueError (a key with
        more than one row)."""
        blocks = self.get(keys)
        if any(len(b) != 1 for b in blocks):
            raise ValueError(f"{self.dir}: rows() needs one row per key; use get() for blocks")
        return np.concatenate(blocks) if blocks else np.zeros((0,), np.float32)


def _entry(v: Any, f: Path) -> tuple[str, int, int]:
    if isinstance(v, list) and len(v) == 3 and isinstance(v[0], str):
        return v[0], int(v[1]), int(v[2])
    if isinstance(v, list) and len(v) == 2 and isinstance(v[0], int):  # format 1: [shard number, row]
        return f"shard-{v[0]:05d}.npy", int(v[1]), 1
    raise ValueError(f"{f}: unreadable cache index entry {v!r}")
