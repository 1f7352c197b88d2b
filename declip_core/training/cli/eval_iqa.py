#!/usr/bin/env python
"""Evaluate DeCLIP quality on MOS datasets with the usual IQA protocols.

    python training/eval_iqa.py --dataset koniq10k:/data/koniq --dataset kadid10k:/data/kadid \
        [--declip lite] [--metric tech] [--protocol intra --protocol cross] \
        [--head zeroshot --head default --head runs/koniq-head] [--json report.json]

intra: 10 random 80/20 splits per dataset (by reference image for KADID-10k), a regression head
fitted on each training part; median SRCC, PLCC (4-parameter logistic) and KRCC.
cross: train on each dataset, test on each other one.
--head: apply a head as is (no training on the dataset): 'zeroshot', 'default' (shipped
lite-<metric>) or a head checkpoint (file, folder or tag).
Unreadable or missing images are counted in the output, listed in the JSON and skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from declip_core.constants import METRICS


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", action="append", required=True, metavar="NAME:ROOT[;k=v]")
    ap.add_argument("--declip", default="lite", help="DeCLIP tag or checkpoint path (default: lite)")
    ap.add_argument("--metric", choices=METRICS, default=None,
                    help="metric of the heads (default: aes for ava, else tech)")
    ap.add_argument("--protocol", action="append", choices=("intra", "cross"), default=None,
                    help="default: intra and cross (none when only --head is given)")
    ap.add_argument("--head", action="append", default=[], help="'zeroshot', 'default' or a head checkpoint")
    ap.add_argument("--n-splits", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--views", choices=("crops", "resize"), default=None,
                    help="how images are seen (default: the metric's policy; tech: native-resolution crops, "
                         "aes: one resized view)")
    ap.add_argument("--json", default=None, help="write the full report (per split, skipped files) here")
    from declip_core.training.data_root import add_data_argument, expand_args

    add_data_argument(ap)
    a = ap.parse_args(argv)
    expand_args(a, ['dataset', 'declip', 'head', 'cache_dir', 'json'])
    protocols = a.protocol if a.protocol is not None else ([] if a.head else ["intra", "cross"])

    from declip_core.training.mos import evaluate_mos
    from declip_core.views import ViewPolicy

    try:
        rep = evaluate_mos(a.dataset, declip=a.declip, metric=a.metric, protocols=protocols, heads=a.head,
                           cache_dir=a.cache_dir, n_splits=a.n_splits, seed=a.seed, epochs=a.epochs,
                           batch_size=a.batch_size, workers=a.workers, device=a.device,
                           views=ViewPolicy(a.views) if a.views else None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(rep.markdown())
    if a.json:
        Path(a.json).write_text(json.dumps(rep.to_json(), indent=2))
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
