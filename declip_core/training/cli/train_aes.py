#!/usr/bin/env python
"""Train `declip_aes` without ratings: graded aesthetic edits and technical damage of the collection's photos.

    python training/train_aes.py --data DIR [--collection photos-v2] [--declip lite] [--out runs/lite-aes-v5]
                                 [--short 384] [--seeds 2] [--members 4] [--epochs 30]

Training photos: the `train` split of the gathered collection (full-resolution files, shorter side --short
px); validation: the `val` split (never the `test` split, which the benchmark keeps). Pairs and ladders:
declip_core.training.aesthetic_head. Two heads are fitted on the same pairs, a FeatureHead on the backbone
features of the aes view (`whole`: the full frame) and one on the perceptual embedding (the paper's place for
it); the one with the better validation pair accuracy ships, with a FeatureAttributeHead for composition,
lighting and colour_harmony. Backbone features are cached per image in <out>/cache-<key>/ (the key: DeCLIP
checkpoint, view, --short), so Ctrl-C and the same command resume, and a rerun with more items computes only those.
Writes <out>/iqa-aes.safetensors and <out>/aes_report.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path


def _features(dc, views, photos: dict, items_of, short: int, cache, log) -> tuple[list, "object", "object"]:
    """(items, features (N, D), perceptual (N, P)) of every item of every photo; features cached per item in
    `cache` (declip_core.array_cache.ShardedArrayCache), so a rerun computes only what is missing."""
    import numpy as np
    import torch

    from declip_core.io import load_rgb_array
    from declip_core.training.aesthetic_head import render_item
    from declip_core.training.view_choice import resize_short
    from declip_core.views import make_views

    items = [it for pid in photos for it in items_of(pid)]
    todo = set(cache.missing([repr(it) for it in items]))
    t0 = time.time()
    with torch.inference_mode():
        for k, (pid, path) in enumerate(photos.items()):
            its = [it for it in items_of(pid) if repr(it) in todo]
            if not its:
                continue
            rgb = resize_short(load_rgb_array(path), short)
            x = torch.stack([torch.from_numpy(render_item(it, rgb)).permute(2, 0, 1) for it in its]).float() / 255.0
            v = make_views(x, views, dc.preprocess_config).flatten(0, 1)  # (n, 3, S, S)
            cache.put([repr(it) for it in its], np.ascontiguousarray(dc.features(v, checked=False).numpy()))
            log(f"  {k + 1}/{len(photos)} {pid}: {len(its)} images ({time.time() - t0:.0f} s)")
    f = torch.from_numpy(cache.rows([repr(it) for it in items]))
    with torch.no_grad():
        p = dc.embed_features(f).perceptual
    return items, f, p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 done, 2 bad arguments or data, 130 interrupted)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    from declip_core.training.data_root import add_data_argument

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(ap)
    ap.add_argument("--collection", default="photos-v2", help="the gathered collection under the data root")
    ap.add_argument("--declip", default="lite", help="DeCLIP tag or checkpoint (default: lite)")
    ap.add_argument("--out", default="runs/lite-aes-v5", help="run folder: head, report, feature cache")
    ap.add_argument("--short", type=int, default=384, help="shorter side of the training images in px")
    ap.add_argument("--seeds", type=int, default=2, help="seeds per edit on training photos (validation: 1)")
    ap.add_argument("--damage-types", default="all",
                    help="comma-separated registry types at levels 3..5 in training, or 'all' (validation: every type)")
    ap.add_argument("--members", type=int, default=4, help="ensemble members of the head")
    ap.add_argument("--epochs", type=int, default=30, help="epochs of each member (the attribute head: 10x)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    a = ap.parse_args(argv)
    from declip_core.training.runtime import run_interruptible

    return run_interruptible(_run, a)


def _run(a: argparse.Namespace) -> int:
    from declip_core.training.data_root import data_root
    import torch

    from declip_core.array_cache import ShardedArrayCache
    from declip_core.constants import AES_ATTRIBUTES
    from declip_core.inference import freeze, load_declip
    from declip_core.iqa.model import QualityModel, default_views
    from declip_core.training.aesthetic_head import (aesthetic_ladders, aesthetic_pairs, attribute_pairs,
                                                     attribute_targets, pair_accuracy, plan_items)
    from declip_core.training.config import FeatureFitConfig
    from declip_core.training.data.aesthetic_edits import AESTHETIC_EDITS
    from declip_core.training.data.distortions import DISTORTIONS
    from declip_core.training.data.photos.files import photo_files
    from declip_core.training.quality_heads import write_head_run
    from declip_core.training.quality_fit import fit_feature_attribute_head, fit_feature_head
    from declip_core.training.ranking import within_group_summary

    torch.set_num_threads(a.threads)  # a CLI setting for this process (library code never sets it)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(m, flush=True)  # noqa: E731
    collection = data_root(a.data) / a.collection
    try:
        train_photos = photo_files(collection, ["train"])
        val_photos = photo_files(collection, ["val"])
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not train_photos or not val_photos:
        print(f"error: {collection}: needs train and val photos (gather them with training/gather_photos.py)",
              file=sys.stderr)
        return 2
    damage = tuple(DISTORTIONS) if a.damage_types == "all" else tuple(t for t in a.damage_types.split(",") if t)
    unknown = [t for t in damage if t not in DISTORTIONS]
    if unknown:
        print(f"error: unknown damage types {unknown}", file=sys.stderr)
        return 2
    dc = load_declip(a.declip)
    views = default_views("aes")
    t0 = time.time()
    log(f"aesthetic set: {len(train_photos)} training photos, {len(val_photos)} validation photos, view {views.to_dict()}")
    key = hashlib.sha256(json.dumps([str(dc.checkpoint_sha256), views.to_dict(), a.short]).encode()).hexdigest()[:16]
    cache = ShardedArrayCache(out / f"cache-{key}")
    tr_items, ftr, ptr = _features(dc, views, train_photos,
                                   lambda p: plan_items([p], seeds=range(a.seeds), damage_types=damage),
                                   a.short, cache, log)
    va_items, fva, pva = _features(dc, views, val_photos,
                                   lambda p: plan_items([p], seeds=(0,), damage_types=tuple(DISTORTIONS)),
                                   a.short, cache, log)
    t_feat = time.time() - t0
    b, w = aesthetic_pairs(tr_items)
    vb, vw = aesthetic_pairs(va_items)
    lad = aesthetic_ladders(va_items)
    log(f"{len(tr_items)} training images, {len(b)} pairs; {len(va_items)} validation images, {len(vb)} pairs")
    report: dict = {"train_photos": len(train_photos), "val_photos": len(val_photos), "train_images": len(tr_items),
                    "train_pairs": int(len(b)), "val_images": len(va_items), "val_pairs": int(len(vb)),
                    "views": views.to_dict(), "short": a.short, "seconds_features": round(t_feat, 1)}
    heads = {}
    for name, x, xv, cfg in [
        ("features", ftr, fva, FeatureFitConfig(epochs=a.epochs, batch_pairs=2048, members=a.members)),
        ("perceptual", ptr, pva, FeatureFitConfig(epochs=a.epochs, batch_pairs=2048, members=a.members, hidden=64,
                                                  dropout=0.1)),
    ]:
        t1 = time.time()
        head, _ = fit_feature_head(x.float(), b, w, xv.float(), lad, cfg)
        with torch.no_grad():
            acc = pair_accuracy(head(xv.float()).numpy(), va_items, vb, vw,
                                key=lambda it: "damage" if it.kind == "damage" else it.name)
        heads[name] = (head, acc)
        report[f"val_{name}"] = {k: round(v, 4) for k, v in acc.items()}
        log(f"head on the {name}: validation pair accuracy {acc['all']:.3f} (damage {acc['damage']:.3f}) "
            f"[{time.time() - t1:.0f} s]")
    best = max(heads, key=lambda n: heads[n][1]["all"])
    report["chosen_input"] = best
    if best == "perceptual":
        print("note: the perceptual-embedding head ranks better; this command ships feature heads only "
              "(QualityModel's FeatureHead reads backbone features)", file=sys.stderr)
    head = heads["features"][0]
    targets = attribute_targets(tr_items)
    attr = fit_feature_attribute_head(ftr.float(), targets, attribute_pairs(tr_items, b, w), AES_ATTRIBUTES,
                                      FeatureFitConfig(epochs=a.epochs * 10, hidden=128, dropout=0.5))
    with torch.no_grad():
        probs = attr.attribute_probs(fva.float()).numpy()
    edit_lad = aesthetic_ladders(va_items, kinds=("edit",))
    for j, g in enumerate(AES_ATTRIBUTES):
        keep = [k for k, t in enumerate(edit_lad.type) if AESTHETIC_EDITS[t].group == g]
        r = within_group_summary(probs[edit_lad.idx[keep], j], edit_lad.level[keep].tolist(),
                                 [edit_lad.group[k] for k in keep])
        report[f"val_attribute_{g}_srcc"] = round(r["srcc"], 4)
        log(f"attribute {g}: validation SRCC over its own edits {r['srcc']:.3f}")
    model = freeze(QualityModel(dc, "aes", head, attr.eval(), "features", views))
    report["seconds_total"] = round(time.time() - t0, 1)
    write_head_run(out, model, report, "python training/train_aes.py (declip_core.training.cli.train_aes)",
                   "declip_aes default head (features of the whole frame), trained on ranking pairs of graded "
                   "composition, lighting and colour edits and technical damage of curated photographs "
                   "(no human ratings)", log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
