"""Rerun spread of a trained run: retrain its disentangler on its own cached inputs, unchanged and changed in
their last bits, and print how far the embeddings of the five reference photos move.

    python training/rerun_spread.py --run runs/lite-v3 --variants sem_text:1 sem_text:2 perc_text:1 feats:1

`same` (always run, first) retrains on the inputs as they are; row `run` compares the run itself with it (0 when
the run was made by this code from these inputs); `PART:SEED` multiplies one part (feats, perc_text, sem_text)
by (1 + 1e-7 N(0, 1)). Every row is also compared with the shipped `lite` embeddings of --reference. Each
variant is one disentangler training (about 5 min for
the 42,561 rows of runs/lite-v3 on one thread). The run folder needs its resolved_config.yaml, declip.safetensors
and the feature caches its config names (read, never written, when the run's texts and images are cached).
Exit status 0; 2 on bad input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from declip_core.training.data_root import add_data_argument, data_root, expand_config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a training run folder (resolved_config.yaml, declip.safetensors)")
    ap.add_argument("--variants", nargs="+", default=["sem_text:1", "sem_text:2", "perc_text:1", "feats:1"],
                    help="PART:SEED, PART in feats, perc_text, sem_text; the unchanged retraining 'same' always runs "
                         "first (default: %(default)s)")
    ap.add_argument("--reference", default="tests/reference/shipped_tags.json",
                    help="reference JSON: its 'samples' are the photos, its 'lite_embeddings' the shipped `lite` "
                         "(default: %(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    add_data_argument(ap)
    a = ap.parse_args(argv)
    from declip_core.training.runtime import run_interruptible

    return run_interruptible(_run, a)


def _run(a: argparse.Namespace) -> int:
    import torch

    from declip_core.backbones import create_backbone
    from declip_core.inference import load_declip
    from declip_core.io import load_image
    from declip_core.samples import sample_path
    from declip_core.training.config import disentangler_config, load_config
    from declip_core.training.disentangler import train_disentangler
    from declip_core.training.pipeline import encode_rows, train_arrays, training_rows
    from declip_core.training.repro_check import embed_samples, load_reference
    from declip_core.training.rerun_spread import format_table, parse_variant, rerun_spread

    run = Path(a.run)
    try:
        for v in a.variants:
            parse_variant(v)
        for f in ("resolved_config.yaml", "declip.safetensors"):
            if not (run / f).is_file():
                raise ValueError(f"{run / f}: missing (is {run} a training run folder?)")
        ref_doc = load_reference(a.reference)
        if "lite_embeddings" not in ref_doc:
            raise ValueError(f"{a.reference}: holds no 'lite_embeddings'")
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    cfg = expand_config(load_config(run / "resolved_config.yaml"), data_root(a.data))
    backbone = create_backbone(cfg.backbone)
    rows = training_rows(cfg)
    arrays = train_arrays(rows, encode_rows(rows, backbone, cfg.cache_dir), backbone, cfg.cache_dir,
                          cfg.model.features)
    dcfg = disentangler_config(cfg, backbone.info)
    images = {n: load_image(sample_path(n)) for n in ref_doc["samples"]}
    own = embed_samples(load_declip(str(run / "declip.safetensors")), images)
    print(f"{run}: {len(rows)} training rows; {len(set(a.variants) | {'same'})} retrainings", flush=True)
    res = rerun_spread(arrays, lambda arr, tmp: train_disentangler(arr, dcfg, cfg.optim, tmp, seed=cfg.seed,
                                                                     resume=False),
                       backbone, own, images, a.variants, reference=ref_doc["lite_embeddings"])
    table = format_table(res)
    print(table)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(f"Rerun spread of {run} ({len(rows)} rows, {len(images)} reference photos)\n\n"
                               + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
