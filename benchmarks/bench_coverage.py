"""Does the metric see the whole picture? Region-limited and whole-frame severity ladders on the held-out test
photos at full frame, per region kind, declip_tech against BRISQUE, PIQE and NIQE in the same run; and the
same image at 0.5x and 2x.

    python benchmarks/bench_coverage.py [--data DIR] [--collection photos-v2] [--split test] [--short 512]
                                        [--types gaussian_blur white_noise jpeg darken] [--checkpoint TAG_OR_PATH]
                                        [--niqe-params {data}/niqe/niqe_pris_params.npz] [--score-cache DIR] [--out docs/benchmarks/coverage_benchmark.md]

Images: every kept photo of the split (default `test`: never trained on, never used to choose anything), the
whole frame resized so its shorter side is --short px. Ladders: per photo and type, levels 0..5 of the
distortion over the whole frame ('uniform') and inside each region kind of
declip_core.training.data.distortions.regions (halves, quadrants, bands, radial, outside the centre, blobs;
feathered masks; the clean photo is level 0). Figure: mean within-ladder SRCC of score vs severity (a metric
constant inside a ladder gets 0 there) and pooled 2AFC, per kind; higher = better for every metric (BRISQUE,
PIQE and NIQE negated). Scale: the uniform ladders again at 0.5x and 2x the size (Lanczos), and the Kendall
agreement of each ladder's order with the 1x order. Not a test: it prints and writes figures.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_iqa import (Metric, ScoreCache, brisque_scorer, declip_scorer, machine_line, niqe_scorer,  # noqa: E402
                       piqe_scorer, write_report)

from declip_core.training.data.distortions import N_LEVELS, apply_distortion  # noqa: E402
from declip_core.training.data.distortions.regions import REGION_KINDS, apply_region_distortion  # noqa: E402
from declip_core.training.ranking import group_2afc, group_srcc  # noqa: E402

_HERE = "benchmarks/bench_coverage.py"
DEFAULT_TYPES = ("gaussian_blur", "white_noise", "jpeg", "darken")


def ladders(photos: dict[str, np.ndarray], types: Sequence[str], kinds: Sequence[str]
            ) -> tuple[list[np.ndarray], dict[str, list[int]]]:
    """Images and ladder -> image index per level 0..5; ladder ids 'photo|type|kind' ('uniform' for the whole
    frame); the clean photo is stored once and shared."""
    images: list[np.ndarray] = []
    groups: dict[str, list[int]] = {}
    for p, rgb in photos.items():
        images.append(rgb)
        clean = len(images) - 1
        for t in types:
            for k in ("uniform", *kinds):
                idx = [clean]
                for lv in range(1, N_LEVELS + 1):
                    images.append(apply_distortion(rgb, t, lv) if k == "uniform" else
                                  apply_region_distortion(rgb, t, lv, k))
                    idx.append(len(images) - 1)
                groups[f"{p}|{t}|{k}"] = idx
    return images, groups


def per_kind(scores: np.ndarray, groups: dict[str, list[int]], lower_better: bool) -> dict[str, tuple[float, float]]:
    """kind -> (mean within-ladder SRCC, pooled 2AFC); 'region (all kinds)' over every region-limited ladder."""
    s = -np.asarray(scores, float) if lower_better else np.asarray(scores, float)
    acc: dict[str, tuple[list[float], float, int]] = {}
    for g, idx in groups.items():
        kind = g.rsplit("|", 1)[1]
        sr, (c, n) = group_srcc(s[idx]), group_2afc(s[idx])
        for key in (kind, "region (all kinds)") if kind != "uniform" else (kind,):
            r, cc, nn = acc.get(key, ([], 0.0, 0))
            acc[key] = (r + [sr], cc + c, nn + n)
    return {k: (float(np.mean(r)), c / n) for k, (r, c, n) in acc.items()}


def rescale(rgb: np.ndarray, f: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    return np.asarray(Image.fromarray(rgb).resize((max(8, round(w * f)), max(8, round(h * f))),
                                                  Image.Resampling.LANCZOS))


def kendall_agreement(a: np.ndarray, b: np.ndarray, groups: dict[str, list[int]]) -> float:
    """Mean over ladders of the share of level pairs that a and b order the same way (ties count 0.5)."""
    out = []
    for idx in groups.values():
        x, y = a[idx], b[idx]
        pairs = [(i, j) for i in range(len(idx)) for j in range(i + 1, len(idx))]
        out.append(np.mean([1.0 if np.sign(x[i] - x[j]) == np.sign(y[i] - y[j]) != 0 else
                            0.5 if (x[i] == x[j]) or (y[i] == y[j]) else 0.0 for i, j in pairs]))
    return float(np.mean(out))


def main(argv: Sequence[str] | None = None) -> int:
    from declip_core.training.data_root import add_data_argument, data_root

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_argument(ap)
    ap.add_argument("--collection", default="photos-v2")
    ap.add_argument("--split", default="test")
    ap.add_argument("--short", type=int, default=512)
    ap.add_argument("--types", nargs="+", default=list(DEFAULT_TYPES))
    ap.add_argument("--kinds", nargs="+", default=list(REGION_KINDS))
    ap.add_argument("--declip", default="lite")
    ap.add_argument("--checkpoint", default=None, help="tech head tag or file (default: the shipped lite-tech)")
    ap.add_argument("--niqe-params", default="{data}/niqe/niqe_pris_params.npz",
                    help="NIQE pristine parameters (`python benchmarks/niqe_params.py` writes them; NIQE is reported "
                         "missing when absent)")
    ap.add_argument("--score-cache", default=None, help="folder caching the classical metrics' scores")
    ap.add_argument("--no-classical", action="store_true", help="declip_tech only")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "coverage_benchmark.md"))
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    from declip_core.inference import load_declip
    from declip_core.io import load_rgb_array
    from declip_core.iqa import create_quality_model
    from declip_core.training.data.photos.files import photo_files
    from declip_core.training.view_choice import resize_short

    machine = machine_line()
    a.niqe_params = a.niqe_params.replace("{data}", str(data_root(a.data)))
    files = photo_files(data_root(a.data) / a.collection, [a.split])
    if not files:
        raise SystemExit(f"{_HERE}: no kept photos of split {a.split!r} in {data_root(a.data) / a.collection}")
    photos = {p: resize_short(load_rgb_array(f), a.short) for p, f in files.items()}
    t0 = time.time()
    images, groups = ladders(photos, a.types, a.kinds)
    print(f"{len(photos)} photos, {len(images)} images, {len(groups)} ladders ({time.time() - t0:.0f} s)", flush=True)
    tech = create_quality_model("tech", checkpoint=a.checkpoint, declip=load_declip(a.declip))
    metrics = [Metric("declip_tech", declip_scorer(tech, 4), False)]
    missing = []
    if not a.no_classical:
        classical = [brisque_scorer(), piqe_scorer()]
        if Path(a.niqe_params).is_file():
            classical.append(niqe_scorer(a.niqe_params))
        else:
            missing.append(f"NIQE: missing: no parameters at {a.niqe_params} (`python benchmarks/niqe_params.py`)")
        metrics += [ScoreCache(a.score_cache, m).cached() for m in classical] if a.score_cache else classical
    res, scores_1x = {}, {}
    for m in metrics:
        t1 = time.time()
        s = np.asarray(m.score(images), float)
        scores_1x[m.name] = s
        res[m.name] = per_kind(s, groups, m.lower_better)
        print(f"{m.name}: uniform {res[m.name]['uniform'][0]:.3f}, region {res[m.name]['region (all kinds)'][0]:.3f} "
              f"({time.time() - t1:.0f} s)", flush=True)
    # scale: the uniform ladders at 0.5x and 2x, declip_tech only
    uni = {g: idx for g, idx in groups.items() if g.endswith("|uniform")}
    scale_rows = []
    for f in (0.5, 2.0):
        keep = sorted({i for idx in uni.values() for i in idx})
        pos = {i: k for k, i in enumerate(keep)}
        sc = np.asarray(metrics[0].score([rescale(images[i], f) for i in keep]), float)
        s1 = np.array([scores_1x["declip_tech"][i] for i in keep])
        g2 = {g: [pos[i] for i in idx] for g, idx in uni.items()}
        scale_rows.append((f, per_kind(sc, g2, False)["uniform"], kendall_agreement(sc, s1, g2)))
        print(f"declip_tech at {f}x: uniform SRCC {scale_rows[-1][1][0]:.3f}, order agreement with 1x "
              f"{scale_rows[-1][2]:.3f}", flush=True)
    names = list(res)
    kinds = ["uniform", "region (all kinds)", *a.kinds]
    lines = ["| kind | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for k in kinds:
        lines.append(f"| {k} | " + " | ".join(f"{res[n][k][0]:.3f} / {res[n][k][1]:.3f}" for n in names) + " |")
    lines += [f"| {m} | missing |" for m in missing]
    scale = ["| scale | uniform SRCC / 2AFC | ladder order agreement with 1x |", "|---|---|---|"]
    scale += [f"| {f}x | {u[0]:.3f} / {u[1]:.3f} | {k:.3f} |" for f, u, k in scale_rows]
    cmd = "python benchmarks/bench_coverage.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = (f"# Coverage benchmark: region-limited and whole-frame ladders\n\nGenerated by `{cmd.strip()}`. "
            f"Machine at start: {machine}.\n\n{len(photos)} held-out photos (split `{a.split}`, never trained on), "
            f"whole frame, shorter side {a.short} px; types {', '.join(a.types)}; {len(groups)} ladders of levels 0..5. "
            "Cells: mean within-ladder SRCC / pooled 2AFC (higher = better; BRISQUE, PIQE, NIQE negated).\n\n"
            + "\n".join(lines) + "\n\n## The same images at 0.5x and 2x (declip_tech)\n\n" + "\n".join(scale) + "\n")
    write_report(a.out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
