#!/usr/bin/env python
"""Train DeCLIP end to end: build the I&2T set (if missing), cache backbone features, train the
disentangler, train the quality heads, evaluate on held-out photos.

    python training/train.py --config training/configs/quick.yaml      # a try: a few photos, minutes
    python training/train.py --config training/configs/lite.yaml [--set optim.epochs=10 ...] [--data DIR]

It first prints what it will run, where, and roughly how long. With no --config it runs the built-in
defaults (declip_core/training/config.py: a full run into runs/lite) only when --yes is given; without --yes it prints that plan
and exits with status 2. Ctrl-C stops it with one line and exit status 130; the finished parts (I&2T
shards, backbone-feature chunks, disentangler epochs) stay on disk and the same command resumes.
'{data}' in the config's paths stands for the data root (--data, else $DECLIP_DATA, else ./data).

Under torchrun the disentangler trains with DistributedDataParallel (gloo on CPU, nccl on GPU);
rank 0 does everything else.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from declip_core.training.data_root import add_data_argument, data_root, expand_config


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a command-line run never reaches a hub
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=None, help="YAML config (see training/configs/lite.yaml)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. optim.epochs=5")
    ap.add_argument("--no-resume", action="store_true", help="ignore a saved training state in the run folder")
    ap.add_argument("--yes", action="store_true", help="start even without --config (the built-in defaults)")
    add_data_argument(ap)
    a = ap.parse_args(argv)
    from declip_core.training.runtime import run_interruptible

    return run_interruptible(_run, a)


def _run(a: argparse.Namespace) -> int:
    import torch
    import torch.distributed as dist

    from declip_core.training.config import disentangler_config, load_config, save_resolved

    try:
        cfg = expand_config(load_config(a.config, a.set), data_root(a.data))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if cfg.ava.root is not None:  # training/configs/lite-aes-ava.yaml: only the aes head, on AVA (no I&2T plan)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)  # a CLI setting for this process (library code never sets it)
        return _train_ava(cfg)
    print(plan(cfg, a.config), flush=True)
    if a.config is None and not a.yes:
        print("not started: no --config given. Add --yes to run these defaults, or try\n"
              "    python training/train.py --config training/configs/quick.yaml   (a few photos, a few minutes)",
              file=sys.stderr)
        return 2
    if cfg.threads:
        torch.set_num_threads(cfg.threads)  # a CLI setting for this process (library code never sets it)
    distributed = "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if distributed else 0
    out = Path(cfg.out)
    timings: dict[str, float] = {}
    if rank == 0:
        save_resolved(cfg, out)
    if distributed:
        dist.barrier()

    from declip_core.backbones import create_backbone
    from declip_core.inference import DeCLIP
    from declip_core.training.disentangler import train_disentangler
    from declip_core.training.pipeline import encode_rows, train_arrays

    backbone = create_backbone(cfg.backbone)
    i2t = Path(cfg.data.i2t_dir)
    t = time.time()
    if not (i2t / "summary.json").is_file():
        if not cfg.data.build:
            print(f"error: {i2t} holds no finished I&2T set and data.build is false", file=sys.stderr)
            return 2
        if rank == 0:
            _build(cfg, backbone)
        if distributed:
            dist.barrier()
    timings["build_i2t_s"] = time.time() - t
    from declip_core.training.pipeline import training_rows

    rows = training_rows(cfg, log=lambda m: print(m, flush=True))
    print(f"training rows: {len(rows)} from {len({r['photo_id'] for r in rows})} photos", flush=True)
    t = time.time()
    enc = encode_rows(rows, backbone, cfg.cache_dir, progress=cfg.progress and rank == 0)
    arrays = train_arrays(rows, enc, backbone, cfg.cache_dir, cfg.model.features, progress=cfg.progress and rank == 0)
    timings["features_s"] = time.time() - t
    dcfg = disentangler_config(cfg, backbone.info)
    t = time.time()
    log = (lambda r: print(json.dumps(r), flush=True)) if cfg.progress else None
    dis = train_disentangler(arrays, dcfg, cfg.optim, out, seed=cfg.seed, progress=cfg.progress, resume=not a.no_resume,
                             log=log)
    timings["disentangler_s"] = time.time() - t
    if distributed:
        dist.destroy_process_group()
    if rank != 0:
        return 0
    declip = DeCLIP(backbone, dis).eval()
    ckpt = declip.save(out / "declip.safetensors", extra={"i2t_dir": str(i2t), "cache_dir": cfg.cache_dir,
                                                          "train_samples": len(rows), "seed": cfg.seed})
    print(f"saved {ckpt}")
    if cfg.train_iqa:
        t = time.time()
        _train_iqa(declip, rows, arrays.feats, out, cfg.seed, i2t, backbone, cfg)
        timings["iqa_heads_s"] = time.time() - t
    if cfg.evaluate:
        from declip_core.training.run_eval import run_evaluation

        t = time.time()
        rep = run_evaluation(declip, i2t, cfg.cache_dir, out, progress=cfg.progress)
        timings["evaluate_s"] = time.time() - t
        print(rep.table())
        for k, v in rep.claims().items():
            print(f"- {k}: {'met' if v else 'NOT met'}")
    (out / "timings.json").write_text(json.dumps(timings, indent=2))
    print("timings (s): " + ", ".join(f"{k}={v:.1f}" for k, v in timings.items()))
    return 0


# Rates measured on the shipped runs (docs/weights.md, "Time"; one torch thread, a 2-core machine partly busy):
# backbone features ~25 ms per 256-px image; disentangler 17.6 s per epoch over 42,561 rows; the I&2T build
# 23.1 samples/s with 3 workers (docs/photos.md). Used only for the rough figure printed before a run.
_FEATURE_S_PER_IMAGE = 0.025
_EPOCH_S_PER_ROW = 17.6 / 42561
_BUILD_SAMPLES_PER_S = 23.1


def _minutes(seconds: float) -> str:
    return "under 1 min" if seconds < 60 else f"~{seconds / 60:.0f} min"


def plan(cfg, config_path: str | None) -> str:
    """What a run of `cfg` will do, where, and roughly how long (from the rates above), as printable lines."""
    i2t = Path(cfg.data.i2t_dir)
    steps = []
    summary = i2t / "summary.json"
    n_rows = None
    if summary.is_file():
        try:
            n_rows = int(json.loads(summary.read_text()).get("per_split", {}).get("train", 0))
        except (ValueError, OSError) as e:
            raise ValueError(f"{summary}: unreadable I&2T summary ({e})") from e
        steps.append(f"I&2T set {i2t} (built: {n_rows} training rows)")
    elif cfg.data.build:
        from declip_core.training.data.i2t.photos import resolve_sources

        d = cfg.data
        n_photos = len(resolve_sources(list(d.sources)))  # lists files only; raises on an unknown source
        n_build = n_photos * d.crops_per_photo * (1 + d.distortions_per_crop + d.combos_per_crop)
        n_rows = n_build  # all splits: an upper bound on the training rows
        steps.append(f"build the I&2T set {i2t} from {', '.join(d.sources)}: {n_photos} photos x "
                     f"{d.crops_per_photo} crops x {1 + d.distortions_per_crop + d.combos_per_crop} images = about "
                     f"{n_build} samples plus the held-out types' test images, "
                     f"{_minutes(n_build / _BUILD_SAMPLES_PER_S)} at "
                     f"{_BUILD_SAMPLES_PER_S:g} samples/s (3 workers)")
    else:
        steps.append(f"I&2T set {i2t} (missing, and data.build is false: the run will stop)")
    steps.append(f"backbone features ({cfg.backbone}) cached in {cfg.cache_dir}")
    steps.append(f"disentangler, {cfg.optim.epochs} epochs")
    if cfg.train_iqa:
        steps.append("quality heads")
    if cfg.evaluate:
        steps.append("evaluation on the held-out photos (minutes; evaluate=false skips it)")
    lines = [f"training run: config {config_path or '(none: the built-in defaults of declip_core/training/config.py)'}",
             f"  output folder: {cfg.out}"]
    lines += [f"  - {s}" for s in steps]
    if n_rows:
        est = n_rows * (_FEATURE_S_PER_IMAGE + cfg.optim.epochs * _EPOCH_S_PER_ROW)
        lines.append(f"  rough time: {_minutes(est)} for features (if not cached) and the disentangler at one "
                     "thread, plus the build (above, if any) and the heads" + (" and evaluation" if cfg.evaluate else "")
                     + " (rates of the shipped runs, docs/weights.md)")
    else:
        lines.append("  rough time: features ~25 ms per image at one thread, then the disentangler and heads "
                     "(rates of the shipped runs, docs/weights.md)")
    return "\n".join(lines)


def _build(cfg, backbone) -> None:
    from declip_core.training.data.i2t import BuildConfig, build_i2t
    from declip_core.training.data.i2t.captioner import lite_captioner

    d = cfg.data
    bc = BuildConfig(crop_size=d.crop_size, crops_per_photo=d.crops_per_photo, singles_per_crop=d.distortions_per_crop,
                     combos_per_crop=d.combos_per_crop, heldout_photos=tuple(d.heldout_photos),
                     heldout_types=tuple(d.heldout_types), seed=d.seed)
    summary = build_i2t(d.sources, d.i2t_dir, bc, captioner=lite_captioner(backbone, seed=d.seed), progress=cfg.progress)
    print(summary.format())


VAL_SPLITS = ("val", "validation")


def _train_iqa(declip, rows, feats, out: Path, seed: int, i2t: Path, backbone, cfg) -> None:
    import torch

    from declip_core.iqa import save_quality_head
    from declip_core.training.data.manifest import read_manifest
    from declip_core.training.pipeline import encode_rows, subset_by_crop
    from declip_core.training.quality_heads import train_heads

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small full-batch fits: one thread is much faster on a busy machine
    try:
        feats_t = torch.from_numpy(feats)
        with torch.no_grad():
            perc = declip.disentangler.embed_features(feats_t).perceptual
        val_rows = subset_by_crop(read_manifest(cfg.data.val_i2t_dir or i2t, splits=list(VAL_SPLITS)), None,
                                  per_photo=cfg.data.max_val_crops_per_photo)
        kw: dict = {}
        if val_rows:  # a validation split of whole photos
            vf = torch.from_numpy(encode_rows(val_rows, backbone, cfg.cache_dir, progress=cfg.progress)
                                  .select(cfg.model.features))
            with torch.no_grad():
                vp = declip.disentangler.embed_features(vf).perceptual
            kw = {"val_rows": val_rows, "val_perceptual": vp, "features": feats_t, "val_features": vf,
                  "feature_cfg": cfg.feature_head}
            rank_rows = [r for d in cfg.data.ranking_train_dirs for r in read_manifest(d, splits=["train"])]
            if rank_rows:  # ladders for the ranking heads only (e.g. soft originals)
                print(f"ranking-only rows: {len(rank_rows)} from {cfg.data.ranking_train_dirs}", flush=True)
                kw["rank_rows"] = rank_rows
                kw["rank_features"] = torch.from_numpy(encode_rows(rank_rows, backbone, cfg.cache_dir,
                                                                   progress=cfg.progress).select(cfg.model.features))
            val_desc = sorted({r["photo_id"] for r in val_rows})
        else:
            photos = sorted({r["photo_id"] for r in rows})
            kw = {"val_photos": set(photos[::5])}  # every fifth training photo validates the head choice
            val_desc = sorted(kw["val_photos"])
            if cfg.data.ranking_train_dirs:  # they feed the feature head, which needs validation rows
                print(f"note: data.ranking_train_dirs {cfg.data.ranking_train_dirs} not used: no validation rows, "
                      "so no feature head is trained (set data.val_i2t_dir)", flush=True)
        choices = train_heads(declip, rows, perc, seed=seed, log=lambda m: print(m, flush=True), **kw)
    finally:
        torch.set_num_threads(threads)
    for metric, ch in choices.items():
        p = save_quality_head(out / f"iqa-{metric}.safetensors", ch.model,
                              extra={"validation": ch.validation, "validation_photos": val_desc,
                                     "attribute_validation": ch.attribute_validation})
        print(f"{metric}: validation {ch.validation} -> default head '{ch.chosen}' saved to {p}")


def _train_ava(cfg) -> int:
    """The aes head on AVA (declip_core.training.mos.ava.train_ava) from cfg.ava; prints the test-split report."""
    from declip_core.training.config import save_resolved
    from declip_core.training.mos.ava import train_ava

    a = cfg.ava
    try:
        save_resolved(cfg, cfg.out)
        res = train_ava(a.root, cfg.out, a.declip, image_dir=a.image_dir, attribute_head=a.attribute_head,
                        fit=cfg.feature_head, margin=a.margin, partners=a.partners, test_fraction=a.test_fraction,
                        val_fraction=a.val_fraction, cache_dir=cfg.cache_dir, batch_size=a.batch_size,
                        workers=a.workers, device=a.device, log=(lambda m: print(m, flush=True)) if cfg.progress else None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(res.report.markdown())
    print(f"saved {res.path} and {Path(cfg.out) / 'ava_report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
