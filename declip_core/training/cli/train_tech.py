#!/usr/bin/env python
"""Train `declip_tech`'s fragment head: per-region scores of native-resolution fragments from every region of
the image, pooled; trained on uniform and region-limited severity ladders, colour and greyscale originals.

    python training/train_tech.py --data DIR [--collection photos-v2] [--declip lite] [--out runs/lite-tech-v5]
                                  [--max-crops N] [--uniform 3] [--region 2] [--grey-fraction 0.3]
                                  [--members 2] [--epochs 10] [--val-short 768]

Training images: the collection's 256-px `train` crops (declip_core.training.tech_data: clean, `uniform`
whole-crop ladders, `region` region-limited ladders, greyscale originals with ladders of their own), seen
through the `fragments` view (7 x 7 fragments of 32 px: a 256-px crop gives a mosaic with 5-px gaps between
fragments, as a large image gives larger ones). Validation: the `val` photos at full resolution (shorter side
--val-short), whole-image and region-limited ladders of five types and greyscale copies; never the `test`
photos. Per-cell features are cached (<out>/cache-<key>/, declip_core.array_cache) so Ctrl-C and the same
command resume. The attribute head (sharpness, noise, exposure, colour, contrast, compression) is refitted on
the mosaic's whole-image features (FeatureAttributeHead). Writes <out>/iqa-tech.safetensors and
<out>/tech_report.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

VAL_TYPES = ("gaussian_blur", "white_noise", "jpeg", "darken", "contrast_change")
VAL_REGION_TYPES = ("gaussian_blur", "white_noise", "jpeg", "darken")
VAL_REGIONS = ("half_left", "quadrant_br", "band_h", "radial", "outside_centre", "blob")


def val_items(photos: list[str]):
    """Validation TechItems per photo: colour clean + VAL_TYPES ladders + VAL_REGION_TYPES x VAL_REGIONS
    ladders; grey clean + VAL_TYPES ladders (seed 0)."""
    from declip_core.training.tech_data import TechItem

    out = []
    for p in photos:
        out.append(TechItem(p, False, "", 0, "", 0))
        out += [TechItem(p, False, t, lv, "", 0) for t in VAL_TYPES for lv in range(1, 6)]
        out += [TechItem(p, False, t, lv, k, 0) for t in VAL_REGION_TYPES for k in VAL_REGIONS for lv in range(1, 6)]
        out.append(TechItem(p, True, "", 0, "", 0))
        out += [TechItem(p, True, t, lv, "", 0) for t in VAL_TYPES for lv in range(1, 6)]
    return out


def encode_items(dc, views, items, load_rgb, cache, log, label: str):
    """(N, 1 + C, D) float16 features of every item (row 0 the view's feature vector, then its cells: the
    GridHead's input), computed crop by crop and cached."""
    import numpy as np
    import torch

    from declip_core.views import make_views
    from declip_core.training.tech_data import render_tech_item

    keys = [repr(it) for it in items]
    todo = set(cache.missing(keys))
    by_crop: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        if keys[i] in todo:
            by_crop.setdefault(it.crop, []).append(i)
    t0, done = time.time(), 0
    with torch.inference_mode():
        for n, (crop, idx) in enumerate(by_crop.items()):
            rgb = load_rgb(crop)
            x = torch.stack([torch.from_numpy(render_tech_item(items[i], rgb)).permute(2, 0, 1) for i in idx])
            v = make_views(x.float() / 255.0, views, dc.preprocess_config).flatten(0, 1)  # (n, 3, S, S)
            vec, cells = dc.grid_features(v, checked=False)  # (n, D), (n, C, D)
            block = torch.cat([vec[:, None], cells], dim=1).half().numpy()  # (n, 1 + C, D)
            cache.put([keys[i] for i in idx], np.ascontiguousarray(block))
            done += len(idx)
            if n % 25 == 0 or n == len(by_crop) - 1:
                log(f"  {label}: {done}/{len(todo)} images encoded ({time.time() - t0:.0f} s)")
    return torch.from_numpy(cache.rows(keys))  # (N, 1 + C, D)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 done, 2 bad arguments or data, 130 interrupted)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    from declip_core.training.data_root import add_data_argument

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(ap)
    ap.add_argument("--collection", default="photos-v2", help="the gathered collection under the data root")
    ap.add_argument("--declip", default="lite", help="DeCLIP tag or checkpoint the head is trained on (default lite)")
    ap.add_argument("--out", default="runs/lite-tech-v5", help="run folder: head, report, feature cache")
    ap.add_argument("--max-crops", type=int, default=None, help="at most N training crops (evenly over the list)")
    ap.add_argument("--uniform", type=int, default=3, help="whole-crop ladders per crop")
    ap.add_argument("--region", type=int, default=2, help="region-limited ladders per crop")
    ap.add_argument("--grey-fraction", type=float, default=0.3, help="share of crops with a greyscale original")
    ap.add_argument("--seed", type=int, default=0, help="plan and fit seed (default 0)")
    ap.add_argument("--members", type=int, default=2, help="ensemble members of the cell and whole-view heads")
    ap.add_argument("--epochs", type=int, default=10, help="epochs of each cell-head member")
    ap.add_argument("--proj-dim", type=int, default=256, help="PCA dimensions of the cell features")
    ap.add_argument("--val-short", type=int, default=768, help="shorter side of the validation photos in px")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    a = ap.parse_args(argv)
    from declip_core.training.runtime import run_interruptible

    return run_interruptible(_run, a)


def _run(a: argparse.Namespace) -> int:
    from declip_core.training.data_root import data_root
    import numpy as np
    import torch

    from declip_core.array_cache import ShardedArrayCache
    from declip_core.inference import freeze, load_declip
    from declip_core.io import load_rgb_array
    from declip_core.iqa.model import QualityModel, default_views
    from declip_core.training.config import DEFAULT_HELDOUT_TYPES, FeatureFitConfig
    from declip_core.training.data.jsonl import jsonl_rows
    from declip_core.training.data.photos.files import photo_files
    from declip_core.training.fragment_fit import fit_grid_head, grid_scores
    from declip_core.training.quality_fit import (TECH_ATTRIBUTES, attribute_family, attribute_targets,
                                                  fit_feature_attribute_head)
    from declip_core.training.quality_heads import attribute_validation, write_head_run
    from declip_core.training.ranking import within_group_summary
    from declip_core.training.tech_data import plan_tech_items, tech_ladders
    from declip_core.training.view_choice import resize_short

    torch.set_num_threads(a.threads)  # a CLI setting for this process (library code never sets it)
    log = lambda m: print(m, flush=True)  # noqa: E731
    out = Path(a.out)
    collection = data_root(a.data) / a.collection
    crops_file = collection / "crops.jsonl"
    if not crops_file.is_file():
        print(f"error: {crops_file} is missing (gather the collection with training/gather_photos.py)", file=sys.stderr)
        return 2
    crops = {r["crop_id"]: collection / r["file"] for _, r in jsonl_rows(crops_file) if r["split"] == "train"}
    names = sorted(crops)
    if a.max_crops:
        step = max(1, len(names) // a.max_crops)
        names = names[::step][: a.max_crops]
    try:
        val_files = photo_files(collection, ["val"])
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not names or not val_files:
        print(f"error: {collection}: needs train crops and val photos", file=sys.stderr)
        return 2
    dc = load_declip(a.declip)
    views = default_views("tech")
    items = plan_tech_items(names, DEFAULT_HELDOUT_TYPES, a.uniform, a.region, a.grey_fraction, 1, a.seed)
    vitems = val_items(list(val_files))
    key = hashlib.sha256(json.dumps([str(dc.checkpoint_sha256), views.to_dict(), a.val_short]).encode()).hexdigest()[:16]
    cache = ShardedArrayCache(out / f"cache-{key}")
    log(f"fragment head: {len(names)} training crops, {len(items)} training images, {len(val_files)} validation "
        f"photos ({len(vitems)} images), view {views.to_dict()}")
    t0 = time.time()

    def crop_rgb(c: str) -> np.ndarray:
        return load_rgb_array(crops[c])

    vals = {p: resize_short(load_rgb_array(f), a.val_short) for p, f in val_files.items()}
    vx = encode_items(dc, views, vitems, vals.__getitem__, cache, log, "validation")
    x = encode_items(dc, views, items, crop_rgb, cache, log, "training")
    vec, vvec = x[:, 0], vx[:, 0]
    t_feat = time.time() - t0
    lad, vlad = tech_ladders(items), tech_ladders(vitems)
    b, w = lad.pairs()
    log(f"{len(b)} training pairs; features {t_feat:.0f} s")
    head = fit_grid_head(x, b, w, vx, vlad, FeatureFitConfig(epochs=a.epochs, batch_pairs=1024, dropout=0.2,
                                                             members=a.members, seed=a.seed),
                         proj_dim=a.proj_dim, log=log,
                         whole_cfg=FeatureFitConfig(epochs=20, members=a.members, seed=a.seed))
    s = grid_scores(head, vx)
    report: dict = {"train_crops": len(names), "train_images": len(items), "train_pairs": int(len(b)),
                    "val_photos": len(val_files), "val_images": len(vitems), "views": views.to_dict(),
                    "pool_tau": float(head.pool_tau), "whole_weight": float(head.whole_weight),
                    "seconds_features": round(t_feat, 1)}

    def sub(pred) -> dict:
        keep = [k for k, g in enumerate(vlad.group) if pred(g.split("|"))]
        r = within_group_summary(s[vlad.idx[keep]], vlad.level[keep].tolist(), [vlad.group[k] for k in keep])
        return {"srcc": round(r["srcc"], 4), "2afc": round(r["2afc"], 4)}

    report["val_uniform"] = sub(lambda g: g[1] == "0" and g[3] == "")
    report["val_region"] = sub(lambda g: g[3] != "")
    report["val_region_kinds"] = {k: sub(lambda g, k=k: g[3] == k)["srcc"] for k in VAL_REGIONS}
    report["val_grey"] = sub(lambda g: g[1] == "1")
    clean = [i for i, it in enumerate(vitems) if it.level == 0]
    report["val_clean_colour_mean"] = round(float(np.mean([s[i] for i in clean if not vitems[i].grey])), 4)
    report["val_clean_grey_mean"] = round(float(np.mean([s[i] for i in clean if vitems[i].grey])), 4)
    log(f"validation: {json.dumps(report)}")

    # attribute head on the mosaic's whole-image features: uniform and clean items (region-limited ones have no
    # single attribute level)
    from declip_core.training.quality_fit import flat_frame_targets, flat_frames
    from declip_core.views import make_views

    fnames, fx = flat_frames(256)
    with torch.no_grad():
        fvec, _ = dc.grid_features(make_views(fx, views, dc.preprocess_config)[:, 0], checked=False)
    _, flat_attr = flat_frame_targets(fnames, TECH_ATTRIBUTES)
    use = [i for i, it in enumerate(items) if not it.region]
    chains = [[(items[i].type, items[i].level)] if items[i].level else [] for i in use]
    tg = torch.from_numpy(np.concatenate([attribute_targets(chains, TECH_ATTRIBUTES), flat_attr]))
    sub_items = [items[i] for i in use]
    alad = tech_ladders(sub_items)
    pairs = [alad.select_types(set(attribute_family(at))).pairs() for at in TECH_ATTRIBUTES]
    attr = fit_feature_attribute_head(torch.cat([vec[use].float(), fvec]), tg, pairs, TECH_ATTRIBUTES,
                                      FeatureFitConfig(epochs=15, seed=a.seed))
    vuse = [i for i, it in enumerate(vitems) if not it.region and not it.grey]
    valad = tech_ladders([vitems[i] for i in vuse])
    with torch.no_grad():
        av = attribute_validation(attr.attribute_probs(vvec[vuse].float()).numpy(), valad, TECH_ATTRIBUTES)
    report["val_attributes"] = {k: round(v, 4) for k, v in av.items()}
    log(f"attributes (validation SRCC over each family's ladders among {VAL_TYPES}): {json.dumps(report['val_attributes'])}")
    model = freeze(QualityModel(dc, "tech", head, attr.eval(), "grid", views))
    report["seconds_total"] = round(time.time() - t0, 1)
    write_head_run(out, model, report, "python training/train_tech.py (declip_core.training.cli.train_tech)",
                   "declip_tech default head (grid: 7 x 7 native 32-px fragments from every region, pooled, "
                   "blended with a whole-view head), trained on uniform and region-limited severity ladders of "
                   "colour and greyscale crops", log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
