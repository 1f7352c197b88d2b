"""Soft originals: copies of collected crops that are themselves mildly degraded, as sources of severity ladders.

The collection's crops are sharp, clean wallpapers; real users' "clean" photos are often soft, grainy or
compressed (old scans, phone photos, the scikit-image samples). A ladder built on a soft copy (level 0 = the
soft copy, levels 1-5 = a distortion applied on top of it) teaches that further degradation of an already
imperfect photo still lowers its quality. Such ladders carry ranking pairs only: their level 0 is not a
pristine image, so they are for ranking heads, never for texts or regression targets.

A soft copy applies one distortion of `SOFT_BASES` at level 1 or 2 (declip_core.training.data.distortions)
to the crop. The new collection keeps each crop's photo id and split (so splits stay by whole photo) and
records the base in `soft_base` ([type, level]) and the source crop in `source_crop`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from declip_core.io import load_rgb_array
from declip_core.training.data.distortions import DISTORTIONS, Applied, apply_chain
from declip_core.training.data.photos.collect import read_crops

# Degradations a "clean" photo commonly carries: softness, grain, compression, underexposure.
SOFT_BASES = ("gaussian_blur", "white_noise", "jpeg", "darken")
SOFT_LEVELS = (1, 2)


def soften_crops(src: str | Path, out: str | Path, *, splits: Sequence[str] = ("train",), per_crop: int = 1,
                 bases: Sequence[str] = SOFT_BASES, levels: Sequence[int] = SOFT_LEVELS, seed: int = 0) -> int:
    """Write `per_crop` soft copies of every crop of `splits` in the collection at `src` (a folder with
    crops.jsonl, from `training/gather_photos.py`) as a new collection at `out` (crops/ and crops.jsonl).

    Each copy takes a distinct base type of `bases` (seeded per crop) at a level drawn from `levels`; its
    crop id is '<source crop id>~<type><level>'. Returns the number of copies written. Raises ValueError
    for an unknown base type, a level outside 1..5, per_crop outside 1..len(bases), a source without crops
    of those splits or with a malformed crops.jsonl, or an `out` that already holds a collection (the source
    included: it is never overwritten)."""
    unknown = sorted(set(bases) - set(DISTORTIONS))
    if unknown:
        raise ValueError(f"unknown soft base type(s) {unknown}; choose from {sorted(DISTORTIONS)}")
    if not levels or any(not 1 <= int(lv) <= 5 for lv in levels):
        raise ValueError(f"soft base levels must be in 1..5, got {list(levels)}")
    if not 1 <= per_crop <= len(bases):
        raise ValueError(f"per_crop (--per-crop) must be in 1..{len(bases)}, got {per_crop}")
    out = Path(out)
    if (out / "crops.jsonl").exists():
        raise ValueError(f"{out}: already holds a collection (crops.jsonl); choose an empty --out folder")
    rows = [r for r in read_crops(src) if r["split"] in set(splits)]
    if not rows:
        raise ValueError(f"{src}: no crops in split(s) {list(splits)}")
    (out / "crops").mkdir(parents=True, exist_ok=True)
    written: list[dict] = []
    for r in rows:
        digest = hashlib.sha256(r["crop_id"].encode()).digest()
        rng = np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
        img = load_rgb_array(r["path"])  # (H, W, 3) uint8
        for k in rng.choice(len(bases), size=per_crop, replace=False):
            name, level = bases[int(k)], int(rng.choice(levels))
            soft = apply_chain(img, [Applied(name, level)], seed=int(rng.integers(2**31)))
            crop_id = f"{r['crop_id']}~{name}{level}"
            rel = Path("crops") / (hashlib.sha256(crop_id.encode()).hexdigest()[:20] + ".png")
            Image.fromarray(np.ascontiguousarray(soft)).save(out / rel, compress_level=1)
            row = {k2: v for k2, v in r.items() if k2 != "path"}
            row.update(crop_id=crop_id, file=str(rel), sha256=hashlib.sha256((out / rel).read_bytes()).hexdigest(),
                       soft_base=[name, level], source_crop=r["crop_id"])
            written.append(row)
    (out / "crops.jsonl").write_text("".join(json.dumps(w) + "\n" for w in written))
    return len(written)
