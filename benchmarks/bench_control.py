r"""Control benchmark of the perception-conditioned diffusion demo (docs/control_demo.md).

    python benchmarks/bench_control.py            # table to stdout and runs/control/bench/, figures to docs/img/

For each condition family (blur, noise, over-, under-exposure) and level 0..5 it samples
--n-per-level images conditioned on (a) DeCLIP embeddings of distorted crops of the held-out photos
and (b) DeCLIP embeddings of phrases, plus the same requests with the conditions shuffled within the
family. Each sample is measured independently (variance of the Laplacian, Immerkaer noise sigma,
mean luma) and with declip_tech; Spearman(level, measure) with a stratified bootstrap 95% CI per
family. Real 32x32 patches of the same distorted references give the reference ("real") column.
Timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

from declip_core.io import load_rgb_array
from declip_core.training.control_demo.benchmark import (
    KINDS,
    FamilyResult,
    Request,
    analyse,
    build_requests,
    generate_requests,
    verdict,
)
from declip_core.training.control_demo.data import (
    CONDITIONS,
    FAMILIES,
    LEVELS,
    condition_for,
    distort,
    embed_uint8,
    heldout_photo_paths,
    random_crops,
    train_photo_paths,
    training_phrases,
)
from declip_core.training.control_demo.model import declip_for, load_control_demo, sample
from declip_core.training.control_demo.stats import measure_images, to_uint8

MODEL_TAG = "control-demo"
DEFAULT_MODEL = "runs/control/control_demo.safetensors"
BUNDLED_FILE = "control_demo/control-demo-v1.safetensors"  # under declip_core/weights/
TRAIN_REFERENCE_PHOTOS = ("astronaut", "chelsea", "rocket", "motorcycle_left")  # for tuning only
KIND_LABELS = {"real": "real patches", "image": "image cond.", "image_shuffled": "image, shuffled",
               "phrase": "phrase cond.", "phrase_shuffled": "phrase, shuffled"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def resolve_model(name: str) -> Path:
    """'auto': the registered tag, else the training run's output, else the copy bundled with the package."""
    from declip_core.pretrained import BUNDLED_DIR, list_pretrained, resolve_checkpoint

    if name == "auto":
        if MODEL_TAG in list_pretrained("control_demo"):
            name = MODEL_TAG
        elif Path(DEFAULT_MODEL).is_file():
            name = DEFAULT_MODEL
        else:
            name = str(BUNDLED_DIR / BUNDLED_FILE)
    return resolve_checkpoint(name, kind="control_demo")


def load_tech(declip: Any, name: str = "auto") -> Any:
    """declip_tech on the given DeCLIP. 'auto': the 'lite-tech' tag, else runs/lite/iqa-tech.safetensors,
    whichever head was trained on this DeCLIP (a head only fits the DeCLIP it was trained on)."""
    from declip_core.checkpoint import read_config
    from declip_core.iqa import create_quality_model
    from declip_core.pretrained import list_pretrained, resolve_checkpoint

    if name != "auto":
        return create_quality_model("tech", checkpoint=name, declip=declip)
    candidates = [resolve_checkpoint("lite-tech", kind="iqa_head")] if "lite-tech" in list_pretrained() else []
    if Path("runs/lite/iqa-tech.safetensors").is_file():
        candidates.append(Path("runs/lite/iqa-tech.safetensors"))
    for path in candidates:
        if read_config(path).get("declip_sha256") in (None, declip.checkpoint_sha256):
            return create_quality_model("tech", checkpoint=path, declip=declip)
    raise ValueError(f"no declip_tech head trained on DeCLIP {str(declip.checkpoint_sha256)[:12]}… among "
                     f"{[str(c) for c in candidates]}; pass --tech or --no-tech")


def reference_crops(which: str, per_photo: int, crop: int, seed: int) -> list[np.ndarray]:
    """per_photo random crops of each reference photo (held-out photos, or training photos for tuning)."""
    if which == "heldout":
        paths = heldout_photo_paths()
    else:
        by_name = {p.stem: p for p in train_photo_paths(crop)}
        paths = [by_name[n] for n in TRAIN_REFERENCE_PHOTOS]
    rng = np.random.default_rng(seed)
    return [c for p in paths for c in random_crops(load_rgb_array(p), per_photo, crop, rng)]


def distorted_references(refs: Sequence[np.ndarray], seed: int) -> dict[str, list[np.ndarray]]:
    """{condition key: [distorted reference crop per reference]}."""
    return {c.key: [distort(r, c, seed=seed + 1000 * ci + j) for j, r in enumerate(refs)]
            for ci, c in enumerate(CONDITIONS)}


def real_patches(dist: dict[str, list[np.ndarray]], n: int, patch: int, seed: int) -> list[dict[str, Any]]:
    """Random native-resolution patches of the distorted references, as rows per family/level (kind 'real')."""
    rng = np.random.default_rng(seed)
    rows = []
    for fam in FAMILIES:
        for lv in LEVELS:
            crops = dist[condition_for(fam, lv).key]
            for i in range(n):
                c = crops[i % len(crops)]
                y, x = rng.integers(0, c.shape[0] - patch + 1, 2)
                rows.append({"family": fam, "level": lv, "kind": "real", "seed": i,
                             "image": np.ascontiguousarray(c[y : y + patch, x : x + patch])})
    return rows


@torch.no_grad()
def score_tech(tech: Any, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """declip_tech of uint8 (B, H, W, 3) images -> (B,)."""
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(images[i : i + batch]).permute(0, 3, 1, 2).float() / 255.0
        out.append(tech(x).float().numpy())
    return np.concatenate(out)


def markdown_tables(results: Sequence[FamilyResult], checks: dict[str, bool]) -> str:
    """The attribute table, the shuffled controls against the fed level, the declip_tech table (when measured)
    and the per-level medians."""
    by = {(r.family, r.kind): r for r in results}
    kinds = [k for k in KINDS if any(r.kind == k for r in results)]
    head = "| family (measure, expected sign) | " + " | ".join(KIND_LABELS[k] for k in kinds) + " |"
    sep = "|---|" + "---|" * len(kinds)
    sign = {1: "+", -1: "−"}
    lines = [("Spearman(requested level, measured attribute) [95% bootstrap CI]; ✓ = meets the criterion "
              "(conditioned: expected sign, CI excludes 0; shuffled: CI covers 0)"), "", head, sep]
    for fam, spec in FAMILIES.items():
        cells = []
        for k in kinds:
            r = by[(fam, k)]
            mark = "" if k == "real" else (" ✓" if checks[f"{fam}/{k}"] else " ✗")
            cells.append(r.attr.fmt() + mark)
        lines.append(f"| {fam} ({spec.attribute}, {sign[spec.direction]}) | " + " | ".join(cells) + " |")
    shuffled = [k for k in kinds if k.endswith("_shuffled")]
    if shuffled and all(by[(f, k)].fed is not None for f in FAMILIES for k in shuffled):
        lines += ["", ("Shuffled controls: the same samples against the level of the condition actually fed "
                       "(design: Spearman(requested, fed level))"), "",
                  "| family | " + " | ".join(f"{KIND_LABELS[k]}: vs fed level | design" for k in shuffled) + " |",
                  "|---|" + "---|---|" * len(shuffled)]
        for fam in FAMILIES:
            cells = [f"{by[(fam, k)].fed.fmt()} | {by[(fam, k)].design_rho:+.2f}" for k in shuffled]
            lines.append(f"| {fam} | " + " | ".join(cells) + " |")
    if any(r.tech for r in results):  # not with --no-tech
        lines += ["", "Spearman(requested level, declip_tech) [95% bootstrap CI]; distortion should lower it (−)", "",
                  head.replace("(measure, expected sign)", ""), sep]
        for fam in FAMILIES:
            cells = [by[(fam, k)].tech.fmt() if by[(fam, k)].tech else "n/a" for k in kinds]
            lines.append(f"| {fam} | " + " | ".join(cells) + " |")
    lines += ["", "Median measured attribute per requested level (monotone = strictly in the expected direction)", "",
              "| family | kind | " + " | ".join(f"L{lv}" for lv in LEVELS) + " | monotone |",
              "|---|---|" + "---|" * (len(LEVELS) + 1)]
    for fam in FAMILIES:
        for k in kinds:
            r = by[(fam, k)]
            fmt = "{:.3f}" if r.attribute == "exposure" else "{:.1f}"
            vals = " | ".join(fmt.format(r.attr_medians[lv]) for lv in LEVELS)
            lines.append(f"| {fam} | {KIND_LABELS[k]} | {vals} | {'yes' if r.monotone else 'no'} |")
    return "\n".join(lines)


def plot_curves(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """2 x 4 panels: measured attribute (top) and declip_tech (bottom) vs requested level, per family and kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    style = {"real": ("0.4", "--", "s"), "image": ("C0", "-", "o"), "image_shuffled": ("C0", ":", "x"),
             "phrase": ("C1", "-", "o"), "phrase_shuffled": ("C1", ":", "x")}
    fig, axes = plt.subplots(2, len(FAMILIES), figsize=(4.2 * len(FAMILIES), 7.4), squeeze=False)
    for j, (fam, spec) in enumerate(FAMILIES.items()):
        for row_i, measure in enumerate((spec.attribute, "tech")):
            ax = axes[row_i, j]
            for k in KINDS:
                sel = [r for r in rows if r["family"] == fam and r["kind"] == k]
                if not sel:
                    continue
                lv = np.array([r["level"] for r in sel])
                v = np.array([r[measure] for r in sel])
                q = np.array([np.percentile(v[lv == u], [25, 50, 75]) for u in LEVELS])  # (6, 3)
                c, ls, mk = style[k]
                off = (KINDS.index(k) - 2) * 0.06
                ax.errorbar(np.array(LEVELS) + off, q[:, 1], yerr=[q[:, 1] - q[:, 0], q[:, 2] - q[:, 1]], color=c,
                            ls=ls, marker=mk, ms=4, capsize=2, label=KIND_LABELS[k])
            if measure == "sharpness":
                ax.set_yscale("log")
            label = {"sharpness": "variance of Laplacian", "noise": "Immerkær noise σ (0..255)",
                     "exposure": "mean luma (0..1)", "tech": "declip_tech"}[measure]
            ax.set_ylabel(label)
            ax.set_xticks(LEVELS)
            ax.grid(alpha=0.3)
            if row_i == 0:
                ax.set_title(f"{fam}: {spec.distortion} level")
            else:
                ax.set_xlabel("requested level (0 = clean)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Control curves: median and IQR of the measure per requested level", y=0.995)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _tile(img: np.ndarray, size: int) -> np.ndarray:
    """uint8 (h, w, 3) -> (size, size, 3), nearest-neighbour upscaling by an integer factor."""
    f = max(1, size // img.shape[0])
    return np.kron(img, np.ones((f, f, 1), dtype=np.uint8))[:size, :size]


def plot_samples(gen: dict[Any, np.ndarray], requests: Sequence[Request], dist: dict[str, list[np.ndarray]],
                 path: Path, references: str = "held-out", per_row: int = 6, tile: int = 64) -> None:
    """Per family: rows = levels; a native 64-px centre crop of the first column's reference ('ref.'),
    samples conditioned on the reference images (reference i mod R in column i), and on the phrase."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gap = 4
    fig, axes = plt.subplots(2, 2, figsize=(17, 8.4))
    for ax, (fam, spec) in zip(axes.ravel(), FAMILIES.items()):
        width = tile * (1 + 2 * per_row) + gap * (2 * per_row + 2)
        mosaic = np.full((len(LEVELS) * (tile + gap), width, 3), 255, dtype=np.uint8)
        for lv in LEVELS:
            y = lv * (tile + gap)
            ref = dist[condition_for(fam, lv).key][0]
            o = (ref.shape[0] - tile) // 2
            mosaic[y : y + tile, :tile] = ref[o : o + tile, o : o + tile]
            x = tile + 2 * gap
            for source in ("image", "phrase"):
                reqs = [r for r in requests if r.family == fam and r.level == lv and r.source == source
                        and not r.shuffled][:per_row]
                for r in reqs:
                    mosaic[y : y + tile, x : x + tile] = _tile(gen[(r.cond, r.seed)], tile)
                    x += tile + gap
                x += gap
        ax.imshow(mosaic)
        ax.set_yticks([lv * (tile + gap) + tile / 2 for lv in LEVELS])
        ax.set_yticklabels([f"L{lv}: “{spec.phrases[lv]}”" for lv in LEVELS], fontsize=8)
        ax.set_xticks([tile / 2, tile + 2 * gap + per_row * (tile + gap) / 2,
                       tile + 3 * gap + per_row * (tile + gap) * 1.5])
        ax.set_xticklabels(["ref.", "conditioned on the reference images", "conditioned on the phrase"], fontsize=8)
        ax.set_title(f"{fam} ({spec.distortion})")
    fig.suptitle(f"32×32 samples (shown 2×), {references} reference photos; "
                 "column i uses the same noise seed at every level", y=0.995)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """CLI entry point; returns the results dict that is also written as JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="auto", help=f"checkpoint or tag; auto = tag {MODEL_TAG!r}, else {DEFAULT_MODEL}, else the bundled copy")
    ap.add_argument("--declip", default=None, help="DeCLIP tag/path (default: the one the model was trained with)")
    ap.add_argument("--n-per-level", type=int, default=18, help="a multiple of 6 balances the shuffled control exactly")
    ap.add_argument("--refs-per-photo", type=int, default=4)
    ap.add_argument("--steps", type=int, default=30, help="DDIM steps")
    ap.add_argument("--guidance", type=float, default=2.0, help="classifier-free guidance scale (1 = none)")
    ap.add_argument("--eta", type=float, default=0.0, help="DDIM eta (0 deterministic, 1 ancestral)")
    ap.add_argument("--references", choices=["heldout", "train"], default="heldout",
                    help="reference photos; 'train' only for tuning the sampler, never for reporting")
    ap.add_argument("--tech", default="auto", help="declip_tech head checkpoint or tag (default: the one fitting the DeCLIP)")
    ap.add_argument("--no-tech", action="store_true", help="skip declip_tech")
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="runs/control/bench")
    ap.add_argument("--figures", default="docs/img", help="folder for control_curve.png / control_samples.png ('' = none)")
    args = ap.parse_args(argv)
    if args.n_per_level < 2 or args.refs_per_photo < 1:
        raise ValueError("need --n-per-level >= 2 and --refs-per-photo >= 1")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    from declip_core.inference import load_declip

    model_path = resolve_model(args.model)
    model, meta = load_control_demo(model_path)
    declip_name = args.declip or declip_for(meta)
    declip = load_declip(declip_name)
    if meta.get("declip_sha256") and declip.checkpoint_sha256 != meta["declip_sha256"]:
        raise ValueError(f"{model_path} was trained on DeCLIP {meta['declip_sha256'][:12]}…, "
                         f"{declip_name!r} is {str(declip.checkpoint_sha256)[:12]}…")
    tech = None if args.no_tech else load_tech(declip, args.tech)
    crop = int(meta.get("train", {}).get("crop", 256))
    refs = reference_crops(args.references, args.refs_per_photo, crop, seed=12345 + args.seed)
    dist = distorted_references(refs, seed=777 + args.seed)
    embeddings: dict[Any, torch.Tensor] = {}
    for key, crops in dist.items():
        for j, e in enumerate(embed_uint8(declip, crops)):
            embeddings[("image", key, j)] = e
    with torch.no_grad():
        for fam, spec in FAMILIES.items():
            for lv, e in zip(LEVELS, declip.embed_perceptual_text(list(spec.phrases)).float()):
                embeddings[("phrase", fam, lv)] = e
    timings["references_s"] = time.perf_counter() - t0

    requests = build_requests(args.n_per_level, len(refs), seed=args.seed)
    t1 = time.perf_counter()
    gen_t = generate_requests(
        requests, embeddings,
        lambda emb, seeds: sample(model, emb, seeds, steps=args.steps, guidance=args.guidance, eta=args.eta),
        log=log)
    timings["generate_s"] = time.perf_counter() - t1
    keys = list(gen_t)
    gen_u8 = dict(zip(keys, to_uint8(torch.stack([gen_t[k] for k in keys]))))

    t2 = time.perf_counter()
    patch = model.cfg.image_size
    real = real_patches(dist, args.n_per_level, patch, seed=args.seed)
    stack = np.stack([gen_u8[k] for k in keys] + [r["image"] for r in real])  # (U + R, p, p, 3)
    m = measure_images(stack)
    tq = score_tech(tech, stack) if tech is not None else None
    per_image = [{"sharpness": float(m["sharpness"][i]), "noise": float(m["noise"][i]),
                  "exposure": float(m["exposure"][i]), **({"tech": float(tq[i])} if tq is not None else {})}
                 for i in range(len(stack))]
    by_key = dict(zip(keys, per_image[: len(keys)]))
    rows = [{"family": r.family, "level": r.level, "kind": r.kind, "seed": r.seed, "fed_level": r.fed_level,
             **by_key[(r.cond, r.seed)]} for r in requests]
    rows += [{k: v for k, v in r.items() if k != "image"} | per_image[len(keys) + i] for i, r in enumerate(real)]
    timings["measure_s"] = time.perf_counter() - t2

    results = analyse(rows, n_boot=args.n_boot, seed=args.seed)
    checks = verdict(results)
    table = markdown_tables(results, checks)
    print(table)
    train_meta = meta.get("train", {})
    seen = {p for ps in training_phrases(int(train_meta.get("phrases_per_condition", 32)),
                                          int(train_meta.get("seed", 0))) for p in ps}
    phrases_in_training = sorted({p for s in FAMILIES.values() for p in s.phrases if p in seen})
    timings["total_s"] = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"args": vars(args), "model": str(model_path), "model_step": meta.get("step"), "declip": declip_name,
              "threads": args.threads, "timings": {k: round(v, 1) for k, v in timings.items()},
              "n_generated": len(keys), "results": [r.to_dict() for r in results], "checks": checks,
              "all_checks_pass": all(checks.values()), "phrases_verbatim_in_training": phrases_in_training,
              "rows": rows}
    (out / "results.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (out / "control_table.md").write_text(table + "\n", encoding="utf-8")
    np.savez_compressed(out / "samples.npz", images=np.stack([gen_u8[k] for k in keys]),
                        conds=np.array([json.dumps(list(c)) for c, _ in keys]), seeds=np.array([sd for _, sd in keys]))
    if args.figures:
        fig_dir = Path(args.figures)
        fig_dir.mkdir(parents=True, exist_ok=True)
        plot_curves(rows, fig_dir / "control_curve.png")
        plot_samples(gen_u8, requests, dist, fig_dir / "control_samples.png",
                     references="held-out" if args.references == "heldout" else "TRAINING")
    log(json.dumps({"timings": report["timings"], "n_generated": len(keys), "all_checks_pass": report["all_checks_pass"],
                    "phrases_verbatim_in_training": phrases_in_training}))
    return report


if __name__ == "__main__":
    main()
