#!/usr/bin/env python
"""Where does photo identity leak into the perceptual embedding, and what removes it?

    python training/content_study.py --config training/configs/lite.yaml [--epochs 20]

Needs the I&2T set and feature cache of a finished `train.py` run (it never builds data). Trains the
disentangler on cached features for a few variants (smaller perceptual embeddings; fewer training
photos) and probes each on the held-out photos exactly as `evaluate.py` does: distortion type, level,
photo identity (overall and per distortion level). Two reference rows frame the numbers: the raw
backbone feature, and five measured attributes (sharpness, noise, exposure, contrast, colourfulness),
a description with no semantics at all. Writes <out>/content_study-<features>.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


HEADER = ("| variant | type acc | level acc | content acc | content acc, level 1 | content acc, level 5 | train s |\n"
          "|---|---|---|---|---|---|---|")


def _line(name: str, acc: dict[str, float], by_level: dict[int, float], secs: float | None) -> str:
    t = f"{secs:.0f}" if secs is not None else ""
    return (f"| {name} | {acc['distortion type']:.3f} | {acc['distortion level']:.3f} | {acc['content (photo)']:.3f} | "
            f"{by_level.get(1, float('nan')):.3f} | {by_level.get(5, float('nan')):.3f} | {t} |")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="training/configs/lite.yaml")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, as in train.py")
    ap.add_argument("--epochs", type=int, default=None, help="disentangler epochs per variant (default: the config's)")
    ap.add_argument("--dims", default="16,8,4", help="perceptual embedding sizes to try besides the config's")
    ap.add_argument("--photo-counts", default="5,9,13", help="numbers of training photos to try besides all")
    ap.add_argument("--features", default=None, choices=("pooled", "stats", "pooled+stats"),
                    help="projector input (default: the config's model.features)")
    ap.add_argument("--out", default="runs/content_study")
    from declip_core.training.data_root import add_data_argument, data_root, expand_args, expand_config

    add_data_argument(ap)
    a = ap.parse_args(argv)
    expand_args(a, ['config', 'set', 'out'])

    import dataclasses

    import numpy as np
    import torch

    from declip_core.backbones import create_backbone
    from declip_core.training.data.manifest import read_manifest
    from declip_core.training.config import disentangler_config, load_config
    from declip_core.training.disentangler import train_disentangler
    from declip_core.training.disentangler_eval import SingleDistortionLabels, heldout_probes, measured_attribute_features
    from declip_core.training.pipeline import Encoded, encode_rows, train_arrays

    try:
        cfg = load_config(a.config, list(a.set) + ([f"model.features={a.features}"] if a.features else []))
        expand_config(cfg, data_root(a.data))  # '{data}' in the config's paths
        dims = [int(d) for d in a.dims.split(",") if d]
        counts = [int(n) for n in a.photo_counts.split(",") if n]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    bb = create_backbone(cfg.backbone)
    rows = read_manifest(cfg.data.i2t_dir, splits=["train"])
    held = [r for r in read_manifest(cfg.data.i2t_dir, splits=["heldout"]) if len(r.chain) == 1]
    if not rows or not held:
        print(f"error: {cfg.data.i2t_dir} needs train rows and single-distortion held-out rows", file=sys.stderr)
        return 2
    feats = cfg.model.features
    raw = encode_rows(held, bb, cfg.cache_dir).select(feats)
    lab = SingleDistortionLabels(types=[r.chain[0][0] for r in held], levels=[r.chain[0][1] for r in held],
                                 photos=[r["photo_id"] for r in held])
    enc = encode_rows(rows, bb, cfg.cache_dir)
    photos = sorted({r["photo_id"] for r in rows})
    lines = [f"Held-out: {len(held)} single-distortion images of {len(set(lab.photos))} photos; "
             f"content chance {1 / len(set(lab.photos)):.3f}; features `{feats}`.", "", HEADER]
    for name, x in (("raw feature (reference)", raw),
                    ("measured attributes (reference)", measured_attribute_features([r.path for r in held]))):
        lines.append(_line(name, *heldout_probes(x, lab, cfg.seed), None))
        print(lines[-1], flush=True)

    variants = [(f"perceptual dim {cfg.model.perceptual_dim}, all {len(photos)} photos", cfg.model.perceptual_dim, photos)]
    variants += [(f"perceptual dim {d}, all {len(photos)} photos", d, photos) for d in dims if d != cfg.model.perceptual_dim]
    rng = np.random.default_rng(cfg.seed)
    variants += [(f"perceptual dim {cfg.model.perceptual_dim}, {n} photos", cfg.model.perceptual_dim,
                  sorted(rng.permutation(photos)[:n].tolist())) for n in counts if 1 < n < len(photos)]
    for name, dim, keep in variants:
        keep_set = set(keep)
        sub = [i for i, r in enumerate(rows) if r["photo_id"] in keep_set]
        sub_rows = [rows[i] for i in sub]
        sub_enc = Encoded(pooled=enc.pooled[sub], stats=enc.stats[sub])
        arrays = train_arrays(sub_rows, sub_enc, bb, cfg.cache_dir, feats)
        dcfg = dataclasses.replace(disentangler_config(cfg, bb.info), perceptual_dim=dim)
        ocfg = dataclasses.replace(cfg.optim, epochs=a.epochs or cfg.optim.epochs)
        t = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            dis = train_disentangler(arrays, dcfg, ocfg, tmp, seed=cfg.seed, resume=False)
        secs = time.time() - t
        with torch.no_grad():
            p = dis.embed_features(torch.from_numpy(raw)).perceptual.numpy()
        lines.append(_line(name, *heldout_probes(p, lab, cfg.seed), secs))
        print(lines[-1], flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"content_study-{feats}.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
