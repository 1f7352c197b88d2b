"""declip_aes on held-out photos: composition, light and colour edits, and the damage sanity check; the same
numbers for declip_tech and BRISQUE in the same run (a technical metric should sit near chance on composition).

    python benchmarks/bench_aes.py [--data DIR] [--collection photos-v2] [--split test] [--short 512]
                                   [--aes-checkpoint TAG_OR_PATH] [--out docs/benchmarks/aes_benchmark.md]

Images: every kept photo of the split (default `test`: never trained on, never used to choose anything) of
the gathered collection (`<data>/<collection>`, full-resolution files from its package cache), resized so the
shorter side is --short px (never upscaled). Per photo: the original; every aesthetic edit
(declip_core.training.data.aesthetic_edits) at strengths 1..3 (seed 0); every registry distortion at levels
3..5 (the damage sanity check).

Figures per metric (higher = better for every metric; BRISQUE negated):
- edits: share of (original, edit) pairs where the original scores higher (a tie counts 0.5), per edit and
  per group, over all strengths; and the within-edit SRCC over strengths 0..3 (0 = original);
- damage: share of (original, damaged at level 3..5) pairs where the original scores higher, per type.
Not a test: it prints and writes figures.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_iqa import Metric, brisque_scorer, declip_scorer, machine_line, write_report  # noqa: E402

from declip_core.io import load_rgb_array  # noqa: E402
from declip_core.training.aesthetic_head import AesItem, aesthetic_ladders, aesthetic_pairs, pair_accuracy, plan_items, render_item  # noqa: E402
from declip_core.training.data.aesthetic_edits import AESTHETIC_EDITS  # noqa: E402
from declip_core.training.data.distortions import DISTORTIONS  # noqa: E402
from declip_core.training.ranking import within_group_summary  # noqa: E402
from declip_core.training.view_choice import resize_short  # noqa: E402

_HERE = "benchmarks/bench_aes.py"


def build(photos: dict[str, np.ndarray]) -> tuple[list[AesItem], list[np.ndarray]]:
    """Items (original, edits x strengths, damage types x levels 3..5) and their uint8 images."""
    items, images = [], []
    for pid, rgb in photos.items():
        for it in plan_items([pid], seeds=(0,), damage_types=tuple(DISTORTIONS), mirror=False):
            items.append(it)
            images.append(render_item(it, rgb))
    return items, images


def figures(scores: np.ndarray, items: Sequence[AesItem]) -> dict[str, float]:
    """Pair accuracies per edit, per group, damage per type and overall; within-edit SRCC."""
    b, w = aesthetic_pairs(items)
    orig = np.array([items[i].kind == "original" for i in b.tolist()])
    edit = np.array([items[j].kind == "edit" for j in w.tolist()])
    sel = orig & edit
    out = {f"edit {k}": v for k, v in pair_accuracy(scores, items, b[sel], w[sel]).items()}
    out.update({f"group {k}": v for k, v in pair_accuracy(
        scores, items, b[sel], w[sel], key=lambda it: AESTHETIC_EDITS[it.name].group).items() if k != "all"})
    dmg = orig & ~edit
    out.update({f"damage {k}": v for k, v in pair_accuracy(scores, items, b[dmg], w[dmg]).items()})
    lad = aesthetic_ladders(items, kinds=("edit",))
    out["edit SRCC"] = within_group_summary(np.asarray(scores)[lad.idx], lad.level.tolist(), lad.group)["srcc"]
    return out


def markdown(res: dict[str, dict[str, float]]) -> str:
    names = list(res)
    head = "| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    keys = ["edit all", "edit SRCC"] + [f"group {g}" for g in ("composition", "lighting", "colour_harmony")]
    keys += [f"edit {e}" for e in AESTHETIC_EDITS] + ["damage all"] + [f"damage {t}" for t in DISTORTIONS]
    rows = []
    for k in keys:
        label = {"edit all": "**original > edit, all edits**", "edit SRCC": "within-edit SRCC (strength 0..3)",
                 "damage all": "**original > damage (levels 3..5), all types**"}.get(k, k)
        rows.append(f"| {label} | " + " | ".join(f"{res[n].get(k, float('nan')):.3f}" for n in names) + " |")
    return head + "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    from declip_core.training.data_root import add_data_argument, data_root

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(ap)
    ap.add_argument("--collection", default="photos-v2", help="the gathered collection under the data root")
    ap.add_argument("--split", default="test")
    ap.add_argument("--short", type=int, default=512, help="shorter side of the benchmark images in px")
    ap.add_argument("--declip", default="lite")
    ap.add_argument("--aes-checkpoint", default=None, help="aes head tag or file (default: the shipped lite-aes)")
    ap.add_argument("--tech-checkpoint", default=None, help="tech head tag or file (default: the shipped lite-tech)")
    ap.add_argument("--no-brisque", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "aes_benchmark.md"))
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    from declip_core.inference import load_declip
    from declip_core.iqa import create_quality_model
    from declip_core.training.data.photos.files import photo_files

    machine = machine_line()
    t0 = time.time()
    files = photo_files(data_root(a.data) / a.collection, [a.split])
    if not files:
        raise SystemExit(f"{_HERE}: no kept photos of split {a.split!r} in {data_root(a.data) / a.collection}")
    photos = {pid: resize_short(load_rgb_array(p), a.short) for pid, p in files.items()}
    items, images = build(photos)
    print(f"{len(photos)} photos, {len(images)} images ({time.time() - t0:.0f} s to render)", flush=True)
    dc = load_declip(a.declip)
    aes = create_quality_model("aes", checkpoint=a.aes_checkpoint, declip=dc)
    tech = create_quality_model("tech", checkpoint=a.tech_checkpoint, declip=dc)
    metrics = [Metric("declip_aes", declip_scorer(aes, 8), False), Metric("declip_tech", declip_scorer(tech, 8), False),
               Metric("declip_aes (zero-shot head)", declip_scorer(
                   create_quality_model("aes", head="zeroshot", declip=dc), 8), False)]
    if not a.no_brisque:
        metrics.append(brisque_scorer())
    res = {}
    for m in metrics:
        t1 = time.time()
        s = np.asarray(m.score(images), dtype=np.float64)
        res[m.name] = figures(-s if m.lower_better else s, items)
        print(f"{m.name}: original > edit {res[m.name]['edit all']:.3f}, damage {res[m.name]['damage all']:.3f} "
              f"({time.time() - t1:.0f} s)", flush=True)
    md = markdown(res)
    print("\n" + md)
    cmd = "python benchmarks/bench_aes.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = (f"# Aesthetic benchmark\n\nGenerated by `{cmd.strip()}`. Machine at start: {machine}.\n\n"
            f"{len(photos)} held-out photos (split `{a.split}` of the collection, never trained on), shorter side "
            f"{a.short} px; {len(images)} images: per photo the original, {len(AESTHETIC_EDITS)} edits x 3 strengths "
            f"and {len(DISTORTIONS)} distortion types x levels 3..5. Pair accuracy = share of pairs in which the "
            "original scores higher (ties 0.5); higher is better for every metric (BRISQUE negated).\n\n" + md + "\n")
    write_report(a.out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
