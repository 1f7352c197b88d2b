#!/usr/bin/env python
"""Ablations on cached features: the separation term and the image features used.

    python training/ablate.py --config training/configs/lite.yaml [--epochs 30]

Needs the I&2T set and feature cache of a finished `train.py` run (it never builds data). Each
variant trains the disentangler from the same seed and is evaluated on the held-out photos.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


VARIANTS = (
    ("xcov, pooled+stats (default)", "xcov", "pooled+stats"),
    ("no separation term", "none", "pooled+stats"),
    ("HSIC separation", "hsic", "pooled+stats"),
    ("pooled feature only", "xcov", "pooled"),
    ("early-layer stats only", "xcov", "stats"),
)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="training/configs/lite.yaml")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", default="runs/ablation")
    from declip_core.training.data_root import add_data_argument, data_root, expand_args, expand_config

    add_data_argument(ap)
    a = ap.parse_args(argv)
    expand_args(a, ['config', 'out'])

    import dataclasses

    from declip_core.backbones import create_backbone
    from declip_core.training.data.manifest import read_manifest
    from declip_core.inference import DeCLIP
    from declip_core.training.config import disentangler_config, load_config
    from declip_core.training.disentangler import train_disentangler
    from declip_core.training.pipeline import encode_rows, train_arrays
    from declip_core.training.run_eval import run_evaluation

    cfg = load_config(a.config)

    expand_config(cfg, data_root(a.data))  # '{data}' in the config's paths
    bb = create_backbone(cfg.backbone)
    rows = read_manifest(cfg.data.i2t_dir, splits=["train"])
    enc = encode_rows(rows, bb, cfg.cache_dir)
    lines = ["| variant | type acc (P) | level acc (P) | content acc (P) | content acc (S) | S stability | "
             "retrieval R@1 (type) | train s |", "|---|---|---|---|---|---|---|---|"]
    for name, sep, feats in VARIANTS:
        arrays = train_arrays(rows, enc, bb, cfg.cache_dir, feats)
        dcfg = disentangler_config(cfg, bb.info, features=feats)
        ocfg = dataclasses.replace(cfg.optim, separation=sep, epochs=a.epochs or cfg.optim.epochs)
        t = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            dis = train_disentangler(arrays, dcfg, ocfg, tmp, seed=cfg.seed, resume=False)
        secs = time.time() - t
        rep = run_evaluation(DeCLIP(bb, dis).eval(), cfg.data.i2t_dir, cfg.cache_dir, Path(a.out) / sep / feats)
        if feats == "pooled+stats" and sep == "xcov":
            raw = rep.probes["raw feature"]
        p, s = rep.probes["perceptual"], rep.probes["semantic"]
        lines.append(f"| {name} | {p['distortion type']:.3f} | {p['distortion level']:.3f} | {p['content (photo)']:.3f} | "
                     f"{s['content (photo)']:.3f} | {rep.stability['semantic']['same_photo']:.3f} | "
                     f"{rep.retrieval.get('image->perceptual text recall@1 (type)', float('nan')):.3f} | {secs:.0f} |")
        print(lines[-1], flush=True)
    lines.append(f"| (raw pooled+stats feature) | {raw['distortion type']:.3f} | {raw['distortion level']:.3f} | "
                 f"{raw['content (photo)']:.3f} | | | | |")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
