"""Add FR metric values and a pseudo-MOS to a built I&2T set: `python training/label_fr.py DIR`.

Equivalent to `build_i2t.py ... --fr-labels` for a set already built (see
declip_core.training.data.fr_labels). Re-runs read the SQLite cache and only compute new pairs.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from declip_core.training.data_root import add_data_argument, data_root, expand

    add_data_argument(ap)
    ap.add_argument("i2t_dir", help="a built I&2T set ('{data}' stands for the data root)")
    ap.add_argument("--cache", default=None, help="SQLite label cache (default: <i2t_dir>/fr_cache.sqlite)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--metrics", default="haarpsi,mdsi,gmsd,ms_gmsd",
                    help="comma-separated piq FR metrics of the ensemble (see fr_labels.METRICS)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--no-compute", action="store_true",
                    help="write the columns from the cache only (uncached pairs get NaN)")
    a = ap.parse_args(argv)
    root = data_root(a.data)
    a.i2t_dir, a.cache = expand(a.i2t_dir, root), expand(a.cache, root)
    from declip_core.training.data.fr_labels import METRICS, label_i2t

    metrics = tuple(m for m in a.metrics.split(",") if m)
    unknown = set(metrics) - set(METRICS)
    if unknown or not metrics:
        print(f"error: --metrics {a.metrics!r}: choose from {list(METRICS)}", file=sys.stderr)
        return 2

    try:
        print(label_i2t(a.i2t_dir, a.cache, metrics=metrics, batch=a.batch, progress=not a.no_progress, workers=a.workers,
                        compute=not a.no_compute).format())
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
