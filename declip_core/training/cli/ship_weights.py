#!/usr/bin/env python
"""Copy a finished training run into the package as the shipped weight tags.

    python training/ship_weights.py runs/lite [--version v5] [--config training/recipes/weights-v5.yaml]
    python training/ship_weights.py runs/lite-v5 --keep-declip --version v5   # new heads on the shipped DeCLIP

Writes declip_core/weights/declip-lite-<v>.{safetensors,json} (DeCLIP, stored as float16 to halve
the file; loading upcasts to float32), declip-lite-tech-<v>.* and declip-lite-aes-<v>.* (the quality
heads, re-saved so that they reference the shipped DeCLIP's sha256) and their rows of
declip_core/weights/tags.json (other tags, e.g. control-demo, are kept). --version and --config default to
those of the latest shipped 'lite' tag (re-shipping a run of the same generation).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from declip_core.constants import METRICS
from declip_core.pretrained import BUNDLED_DIR as WEIGHTS  # declip_core/weights
from declip_core.pretrained import PRETRAINED, TAGS_FILE, WeightTag, write_tags


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    latest = PRETRAINED["lite"]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a train.py output folder holding declip/iqa-tech/iqa-aes checkpoints")
    ap.add_argument("--version", default=latest.version, help=f"default: the latest tag's ({latest.version})")
    ap.add_argument("--config", default=latest.training_config,
                    help=f"the training config of the run (recorded; default the latest tag's, {latest.training_config})")
    ap.add_argument("--licence", default=latest.licence, help=f"of the weights (default {latest.licence})")
    ap.add_argument("--then", default="", help="commands run between training and shipping (recorded), e.g. the view choice")
    ap.add_argument("--keep-declip", action="store_true",
                    help="ship only the run's heads, trained on the shipped `lite` DeCLIP (which stays as it is)")
    ap.add_argument("--made-by", default=None, help="the commands that made the run (recorded; default: train.py)")
    from declip_core.training.data_root import add_data_argument, expand_args

    add_data_argument(ap)
    a = ap.parse_args(argv)
    expand_args(a, ['run'])

    import torch

    from declip_core.checkpoint import load_checkpoint, read_config, save_checkpoint
    from declip_core.constants import SCORE_RANGE
    from declip_core.inference import declip_from_checkpoint
    from declip_core.iqa.model import load_quality_head, save_quality_head

    run = Path(a.run)
    made_by = (a.made_by or f"python training/train.py --config {a.config}") + "; " + \
        (f"{a.then}; " if a.then else "") + f"python training/ship_weights.py {a.run} --version {a.version}" + \
        (" --keep-declip" if a.keep_declip else "")
    if a.keep_declip:  # the shipped DeCLIP stays; the run's heads were trained on it
        dpath = WEIGHTS / latest.file
        declip = declip_from_checkpoint(dpath)
        tags = [latest]
    else:
        tensors, cfg = load_checkpoint(run / "declip.safetensors")
        run_cfg = json.loads((run / "timings.json").read_text()) if (run / "timings.json").is_file() else {}
        cfg = {k: v for k, v in cfg.items() if k not in ("format", "format_version", "sha256", "tensors_file")}
        cfg["extra"] = {**cfg.get("extra", {}), "stored_dtype": "float16", "timings_s": run_cfg, "made_by": made_by}
        half = {k: (v.half() if v.is_floating_point() else v) for k, v in tensors.items()}
        dpath = save_checkpoint(WEIGHTS / f"declip-lite-{a.version}.safetensors", half, cfg)
        declip = declip_from_checkpoint(dpath)
    common = {"licence": a.licence, "training_config": a.config, "version": a.version, "source": made_by}
    if not a.keep_declip:
        tags = [WeightTag(tag="lite", file=dpath.name, sha256=read_config(dpath)["sha256"], kind="declip",
                          metric=None, score_range=None, description="DeCLIP on the lite stand-in backbone, trained "
                          "offline on CPU (demo grade)", **common)]
    for metric in METRICS:
        src = run / f"iqa-{metric}.safetensors"
        orig = declip if a.keep_declip else declip_from_checkpoint(run / "declip.safetensors", backbone=declip.backbone)
        qm = load_quality_head(src, orig)
        qm.declip = declip
        extra = {k: v for k, v in read_config(src).items()
                 if k in ("validation", "validation_photos", "attribute_validation", "view_choice", "description",
                          "training", "report")}
        hp = save_quality_head(WEIGHTS / f"declip-lite-{metric}-{a.version}.safetensors", qm, extra=extra)
        x = torch.rand(2, 3, 300, 320)
        with torch.no_grad():
            diff = float((load_quality_head(src, orig)(x) - qm(x)).abs().max())
        print(f"{metric}: float16 DeCLIP changes scores by at most {diff:.2e} on random images")
        tags.append(WeightTag(tag=f"lite-{metric}", file=hp.name, sha256=read_config(hp)["sha256"], kind="iqa_head",
                              metric=metric, score_range=SCORE_RANGE, description=extra.get(
                                  "description", f"declip_{metric} default head ({qm.head_type}), trained on "
                                                 "I&2T-derived targets"), **common))
    tags += [t for t in PRETRAINED.values() if t.tag not in {x.tag for x in tags}]  # keep other tags (control-demo)
    write_tags(tags, TAGS_FILE)
    for t in tags:
        print(f"{t.tag}: {t.file} sha256 {t.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
