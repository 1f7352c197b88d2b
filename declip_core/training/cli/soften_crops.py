"""Soft originals for severity ladders: `python training/soften_crops.py SRC --out DIR [--split train]`.

Writes a copy of every crop of the given split(s) of the collection at SRC (built by
`training/gather_photos.py`), mildly degraded by one of declip_core.training.data.photos.soft.SOFT_BASES
at level 1 or 2, as a new collection at DIR; build its ladders with
`python training/build_i2t.py gathered-photos:DIR ...` (docs/weights.md). Exit status 0, or 2 with
`error: ...` on bad arguments or an unreadable collection.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from declip_core.training.data_root import add_data_argument, data_root, expand

    add_data_argument(ap)
    ap.add_argument("src", help="collection folder with crops.jsonl ('{data}' stands for the data root)")
    ap.add_argument("--out", required=True, help="folder for the soft copies (crops/ and crops.jsonl)")
    ap.add_argument("--split", action="append", default=None,
                    help="a split to copy; repeat for several (default: train)")
    ap.add_argument("--per-crop", type=int, default=1,
                    help="soft copies per crop, each with another base type (default: 1)")
    ap.add_argument("--seed", type=int, default=0, help="(default: 0)")
    a = ap.parse_args(argv)
    root = data_root(a.data)
    a.src, a.out = expand(a.src, root), expand(a.out, root)

    from declip_core.training.data.photos.soft import soften_crops

    try:
        n = soften_crops(a.src, a.out, splits=tuple(a.split or ["train"]), per_crop=a.per_crop, seed=a.seed)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"soft copies written to {a.out}: {n}")
    return 0
