#!/usr/bin/env python
"""Evaluate a DeCLIP checkpoint on the held-out photos of an I&2T set.

    python training/evaluate.py runs/lite/declip.safetensors [--i2t DIR] [--data DIR] [--out runs/lite/eval]

Prints the disentanglement table (linear probes for distortion type, level and content on the raw
feature, the perceptual and the semantic embedding, plus a reference row of five measured attributes;
photo-identity accuracy per distortion level; stability of embeddings across distortions;
image->perceptual-text retrieval; zero-shot SRCC with held-out phrasings) and writes report.md,
report.json and embeddings.png.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path



def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="DeCLIP checkpoint (.safetensors), folder or tag")
    from declip_core.training.data_root import add_data_argument, data_root, expand
    add_data_argument(ap)
    ap.add_argument("--i2t", default=None, help="I&2T set with a held-out split (default: the one it was trained on)")
    ap.add_argument("--cache", default=None, help="feature cache folder (default: the training run's)")
    ap.add_argument("--out", default=None, help="report folder (default: <checkpoint folder>/eval)")
    ap.add_argument("--crops-per-photo", type=int, default=None, help="at most this many source crops per held-out photo")
    a = ap.parse_args(argv)
    root = data_root(a.data)
    a.i2t, a.cache, a.out = expand(a.i2t, root), expand(a.cache, root), expand(a.out, root)

    from declip_core.checkpoint import read_config
    from declip_core.inference import load_declip
    from declip_core.pretrained import resolve_checkpoint
    from declip_core.training.run_eval import run_evaluation

    try:
        path = resolve_checkpoint(a.checkpoint, kind="declip")
        extra = read_config(path).get("extra", {})
        data = a.i2t or extra.get("i2t_dir")
        if not data:
            raise ValueError("the checkpoint does not record its I&2T set; pass --i2t")
        model = load_declip(path)
        out = Path(a.out) if a.out else path.parent / "eval"
        rep = run_evaluation(model, data, a.cache or extra.get("cache_dir", "runs/cache"), out,
                             crops_per_photo=a.crops_per_photo)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"held-out images: {rep.n_images} from {rep.n_photos} photos\n")
    print(rep.table())
    print()
    for k, v in rep.claims().items():
        print(f"- {k}: {'met' if v else 'NOT met'}")
    print(f"\nreport: {out / 'report.md'}, plot: {out / 'embeddings.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
