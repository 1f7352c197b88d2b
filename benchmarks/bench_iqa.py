"""DeCLIP quality vs BRISQUE and PIQE on held-out material, and the speed/memory of batch scoring.

    python benchmarks/bench_iqa.py [--declip PATH --checkpoint PATH] [--size 256] [--n-speed 64]
                                   [--skip-speed] [--skip-quality] [--out docs/benchmarks/iqa_benchmark.md]

Quality: the held-out photos (china, flower, grace_hopper, coffee; centre square crop resized to
--size, as the I&2T crops) under each held-out distortion type (lens_blur, multiplicative_noise,
jpeg2000, mean_shift, pixelate) at levels 1..5, with the clean crop as level 0; the 20 training
types are reported too, labelled. Per group (photo x type): SRCC of the score against -level, and
2AFC accuracy over the pairs at different levels (the less distorted should score better; a tie
counts 0.5). Scores are oriented so higher = better for every metric (BRISQUE and PIQE negated).
A metric constant within a group gets SRCC 0 there (no information), never a skipped group.
Metrics: declip_tech (default head and zero-shot head), BRISQUE (PyPI brisque, via
benchmarks/brisque_compat.py) and pyiqa's PIQE.

Speed: images/second of `declip_core.iqa.batch.score_files` on N image files on the CPU, next to
the raw backbone forward pass on the same, already preprocessed batch (the limit) and BRISQUE; peak
RSS of scoring N and 4N files, each in a fresh process. Not a test: figures depend on the machine
and its load.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from declip_core.training.data.distortions import DISTORTIONS, N_LEVELS, apply_distortion
from declip_core.io import load_image
from declip_core.samples import sample_path
from declip_core.training.config import DEFAULT_HELDOUT_PHOTOS, DEFAULT_HELDOUT_TYPES

_HERE = "benchmarks/bench_iqa.py"
HELDOUT_TYPES: tuple[str, ...] = tuple(DEFAULT_HELDOUT_TYPES)
TRAINING_TYPES: tuple[str, ...] = tuple(t for t in DISTORTIONS if t not in HELDOUT_TYPES)
Scorer = Callable[[Sequence[np.ndarray]], np.ndarray]  # uint8 (H, W, 3) images -> (N,) scores


@dataclass(frozen=True)
class Metric:
    name: str
    score: Scorer
    lower_better: bool


# ----------------------------------------------------------------------------- quality figures
def photo_crop(name: str, size: int) -> np.ndarray:
    """Centre square crop of a sample photo resized to (size, size, 3) uint8 (Lanczos, as the I&2T crops)."""
    im = load_image(sample_path(name))
    w, h = im.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return np.asarray(im.crop(box).resize((size, size), Image.Resampling.LANCZOS)).copy()


@dataclass(frozen=True)
class DistortionSet:
    """Unique images and, per group 'photo|type', the image index of each level 0..5."""

    images: list[np.ndarray]
    groups: dict[str, list[int]]  # group -> image index per level (index 0 = the clean crop)


def build_set(photos: Sequence[str], types: Sequence[str], size: int, seed: int = 0) -> DistortionSet:
    """Clean crops (shared by every group of their photo) and each type at levels 1..N_LEVELS."""
    unknown = [t for t in types if t not in DISTORTIONS]
    if unknown:
        raise ValueError(f"{_HERE}: unknown distortion types {unknown}")
    images: list[np.ndarray] = []
    groups: dict[str, list[int]] = {}
    for p in photos:
        clean = photo_crop(p, size)
        images.append(clean)
        ci = len(images) - 1
        for t in types:
            idx = [ci]
            for lv in range(1, N_LEVELS + 1):
                images.append(apply_distortion(clean, t, lv, seed=seed))
                idx.append(len(images) - 1)
            groups[f"{p}|{t}"] = idx
    return DistortionSet(images, groups)


def group_srcc(scores: Sequence[float]) -> float:
    """SRCC of scores (ordered by level 0..L) against -level; 0 when the scores are constant."""
    s = np.asarray(scores, dtype=float)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{_HERE}: non-finite scores {s.tolist()}")
    if np.ptp(s) == 0:
        return 0.0
    return float(spearmanr(s, -np.arange(len(s))).statistic)


def group_2afc(scores: Sequence[float]) -> tuple[float, int]:
    """(correct, pairs) over level pairs: the lower level should score higher; a tie counts 0.5."""
    s = np.asarray(scores, dtype=float)
    correct = sum(1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0 for i, j in combinations(range(len(s)), 2))
    return correct, len(s) * (len(s) - 1) // 2


def summarize(scores: np.ndarray, ds: DistortionSet, lower_better: bool) -> dict[str, dict[str, float]]:
    """type -> {'srcc': mean over photos, '2afc': pooled accuracy}, plus 'overall' over all groups."""
    oriented = -np.asarray(scores, dtype=float) if lower_better else np.asarray(scores, dtype=float)
    per_type: dict[str, tuple[list[float], float, int]] = {}
    for g, idx in ds.groups.items():
        t = g.split("|", 1)[1]
        sr, (c, n) = group_srcc(oriented[idx]), group_2afc(oriented[idx])
        rs, cc, nn = per_type.get(t, ([], 0.0, 0))
        per_type[t] = (rs + [sr], cc + c, nn + n)
    out = {t: {"srcc": float(np.mean(r)), "2afc": c / n} for t, (r, c, n) in per_type.items()}
    all_r = [r for rs, _, _ in per_type.values() for r in rs]
    out["overall"] = {"srcc": float(np.mean(all_r)),
                      "2afc": sum(c for _, c, _ in per_type.values()) / sum(n for _, _, n in per_type.values())}
    return out


def declip_scorer(model: object, batch_size: int = 16) -> Scorer:
    """Scores from a QualityModel on uint8 images (tensor path, as pyiqa calls it)."""
    import torch

    def score(images: Sequence[np.ndarray]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for i in range(0, len(images), batch_size):
                x = torch.stack([torch.from_numpy(im).permute(2, 0, 1).float() / 255.0
                                 for im in images[i:i + batch_size]])
                out.append(model(x).float().numpy())  # type: ignore[operator]
        return np.concatenate(out)

    return score


def piqe_scorer() -> Metric:
    """pyiqa's PIQE (no weights to download; lower is better)."""
    import pyiqa
    import torch

    m = pyiqa.create_metric("piqe", device="cpu")

    def score(images: Sequence[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            return np.array([float(m(torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255.0))
                             for im in images])

    return Metric("PIQE (pyiqa)", score, bool(m.lower_better))


def brisque_scorer() -> Metric:
    """BRISQUE (PyPI brisque 0.2 through brisque_compat; lower is better)."""
    from brisque_compat import CompatBRISQUE

    b = CompatBRISQUE()
    return Metric("BRISQUE", lambda images: np.array([b.score_array(im) for im in images]), True)


def quality_tables(metrics: Sequence[Metric], photos: Sequence[str], size: int
                   ) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """split ('held-out types' / 'training types') -> metric -> type -> figures."""
    res: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for split, types in (("held-out types", HELDOUT_TYPES), ("training types", TRAINING_TYPES)):
        ds = build_set(photos, types, size)
        res[split] = {}
        for m in metrics:
            t0 = time.perf_counter()
            res[split][m.name] = summarize(m.score(ds.images), ds, m.lower_better)
            print(f"  {split}: {m.name} on {len(ds.images)} images in {time.perf_counter() - t0:.1f}s", flush=True)
    return res


def quality_markdown(res: dict[str, dict[str, dict[str, dict[str, float]]]]) -> str:
    """Overall table, then a per-type table for each split."""
    names = list(next(iter(res.values())))
    lines = ["| metric | held-out types SRCC | held-out types 2AFC | training types SRCC (reference) | "
             "training types 2AFC (reference) |", "|---|---|---|---|---|"]
    for n in names:
        h, t = res["held-out types"][n]["overall"], res["training types"][n]["overall"]
        lines.append(f"| {n} | {h['srcc']:.3f} | {h['2afc']:.3f} | {t['srcc']:.3f} | {t['2afc']:.3f} |")
    for split, per in res.items():
        types = [t for t in per[names[0]] if t != "overall"]
        lines += ["", f"{split}: within-group SRCC / 2AFC per type", "",
                  "| type | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for t in types:
            lines.append(f"| {t} | " + " | ".join(f"{per[n][t]['srcc']:.2f} / {per[n][t]['2afc']:.2f}"
                                                  for n in names) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- speed and memory
def make_files(folder: Path, n: int, seed: int = 0, long_side: int = 640) -> list[Path]:
    """n JPEG files: random crops of the held-out photos, long side `long_side`, quality 60..95."""
    rng = np.random.default_rng(seed)
    srcs = []
    for p in DEFAULT_HELDOUT_PHOTOS:
        srcs.append(load_image(sample_path(p)))
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        im = srcs[i % len(srcs)]
        w, h = im.size
        f = rng.uniform(0.6, 1.0)
        cw, ch = int(w * f), int(h * f)
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        c = im.crop((x0, y0, x0 + cw, y0 + ch))
        s = long_side / max(c.size)
        c = c.resize((max(1, round(c.width * s)), max(1, round(c.height * s))), Image.Resampling.BICUBIC)
        path = folder / f"img{i:05d}.jpg"
        c.save(path, quality=int(rng.integers(60, 96)))
        out.append(path)
    return out


def _status_mb(field: str) -> float | None:
    """VmRSS / VmHWM of this process from /proc/self/status in MB (None where there is no procfs)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) on Linux >= 4.0; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_child(model_args: list[str], paths_file: str, batch_size: int, workers: int) -> None:
    """(In a fresh process) score the listed files; print JSON with this process's RSS before and after
    scoring, its peak while scoring, and the decode workers' peak."""
    from declip_core.iqa.batch import score_files

    model = load_model(*model_args)
    paths = Path(paths_file).read_text().splitlines()
    score_files(paths[:batch_size], model, batch_size=batch_size, workers=0)  # warm-up allocations
    rss_loaded = _status_mb("VmRSS")
    reset = _reset_peak()
    t0 = time.perf_counter()
    scores, errors = score_files(paths, model, batch_size=batch_size, workers=workers)
    dt = time.perf_counter() - t0
    print(json.dumps({"n": len(paths), "scored": len(scores), "errors": len(errors), "seconds": dt,
                      "rss_after_load_mb": rss_loaded, "rss_after_scoring_mb": _status_mb("VmRSS"),
                      "peak_while_scoring_mb": _status_mb("VmHWM") if reset else None,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def peak_rss(model_args: list[str], paths: Sequence[Path], batch_size: int, workers: int) -> dict[str, float]:
    """Run rss_child in a fresh interpreter (ru_maxrss only grows within a process)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(str(p) for p in paths))
        listing = fh.name
    try:
        cmd = [sys.executable, __file__, "--_rss-child", listing, "--batch-size", str(batch_size),
               "--workers", str(workers), "--declip", model_args[0], "--checkpoint", model_args[1]]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    finally:
        os.unlink(listing)
    if r.returncode != 0:
        raise RuntimeError(f"{_HERE}: RSS child failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def speed(model: object, model_args: list[str], paths: Sequence[Path], batch_size: int, workers: int,
          repeat: int, brisque_n: int) -> dict[str, object]:
    """images/s of: the raw backbone on the already preprocessed views of the images (the model's
    view policy: several native-resolution crops per image for tech), score_files (overlapped and
    not), BRISQUE."""
    import torch

    from declip_core.io import DEFAULT_MAX_PIXELS
    from declip_core.iqa.batch import _decode, score_files

    dc = model.declip  # type: ignore[attr-defined]
    cfg, views = dc.backbone.info.preprocess, model.views  # type: ignore[attr-defined]

    def prep(p: Path) -> torch.Tensor:  # exactly score_files' decoding: (K, 3, S, S) in 0..1
        return _decode(str(p), cfg, DEFAULT_MAX_PIXELS, views)

    per_image = [dc.backbone.normalize(prep(p)) for p in paths]  # preprocessed once
    n = len(paths)
    batches = [torch.cat(per_image[i:i + batch_size]) for i in range(0, n, batch_size)]

    def raw() -> float:
        t0 = time.perf_counter()
        with torch.inference_mode():
            for x in batches:
                dc.backbone.encode_image(x)
        return n / (time.perf_counter() - t0)

    def files(w: int) -> float:
        t0 = time.perf_counter()
        scores, errors = score_files(paths, model, batch_size=batch_size, workers=w)  # type: ignore[arg-type]
        if errors or len(scores) != n:
            raise RuntimeError(f"{_HERE}: score_files failed on benchmark files: {list(errors.items())[:3]}")
        return n / (time.perf_counter() - t0)

    def decode() -> float:
        t0 = time.perf_counter()
        for p in paths:
            prep(p)
        return n / (time.perf_counter() - t0)

    raw()  # warm-up
    out: dict[str, object] = {"n": n, "batch_size": batch_size, "workers": workers,
                              "torch_threads": torch.get_num_threads(), "views": views.to_dict(),
                              "views_per_image": sum(len(x) for x in per_image) / n}
    runs: dict[str, list[float]] = {"raw": [], "files": [], "files_w0": [], "decode": []}
    for _ in range(repeat):  # interleaved, so a load spike hits all alike
        runs["decode"].append(decode())
        runs["raw"].append(raw())
        runs["files"].append(files(workers))
        runs["files_w0"].append(files(0))
    out.update({k: {"best": max(v), "median": float(np.median(v)), "all": v} for k, v in runs.items()})
    from brisque_compat import CompatBRISQUE

    b = CompatBRISQUE()
    t0 = time.perf_counter()
    for p in paths[:brisque_n]:
        b.score_file(p)
    out["brisque"] = min(brisque_n, n) / (time.perf_counter() - t0)
    out["rss_N"] = peak_rss(model_args, paths[: n // 4] if n >= 8 else paths, batch_size, workers)
    out["rss_4N"] = peak_rss(model_args, paths, batch_size, workers)
    return out


def speed_markdown(s: dict[str, object]) -> str:
    """The speed and memory table."""
    raw, fl, f0, dec = s["raw"], s["files"], s["files_w0"], s["decode"]  # type: ignore[index]
    r_n, r_4n = s["rss_N"], s["rss_4N"]  # type: ignore[index]
    lines = [f"{s['n']} JPEG files (long side 640), batch {s['batch_size']} images, torch threads "
             f"{s['torch_threads']}; view policy {s['views']} = {s['views_per_image']:.1f} backbone inputs per image "
             "(the raw backbone row runs the same inputs); images/s best (median) of the interleaved repeats.", "",
             "| what | images/s | vs raw backbone |", "|---|---|---|",
             f"| raw backbone forward (preprocessed tensors; the limit) | {raw['best']:.1f} ({raw['median']:.1f}) | 100% |",
             f"| declip_tech score_files, {s['workers']} decode worker(s) | {fl['best']:.1f} ({fl['median']:.1f}) | "
             f"{100 * fl['best'] / raw['best']:.0f}% ({100 * fl['median'] / raw['median']:.0f}%) |",
             f"| declip_tech score_files, decoding in-process (workers=0) | {f0['best']:.1f} ({f0['median']:.1f}) | "
             f"{100 * f0['best'] / raw['best']:.0f}% ({100 * f0['median'] / raw['median']:.0f}%) |",
             f"| BRISQUE (decode + score, one process) | {s['brisque']:.1f} | {100 * s['brisque'] / raw['best']:.0f}% |",
             f"| decode + views only (score_files' decoding, one process; not a metric) | "
             f"{dec['best']:.1f} ({dec['median']:.1f}) | - |",
             "", "| RSS, fresh process each (MB) | after model load | peak while scoring | after scoring | "
             "decode worker peak | process peak (incl. loading) |", "|---|---|---|---|---|---|"]
    f = lambda v: "n/a" if v is None else f"{v:.0f}"
    for label, r in (("N", r_n), ("4N", r_4n)):
        lines.append(f"| {label} = {r['n']} files | {f(r['rss_after_load_mb'])} | {f(r['peak_while_scoring_mb'])} | "
                     f"{f(r['rss_after_scoring_mb'])} | {f(r['worker_peak_rss_mb'])} | {f(r['peak_rss_mb'])} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- entry point
def default_model_args() -> list[str]:
    """(declip, checkpoint): the shipped tags when present, else the lite run's files."""
    from declip_core.pretrained import list_pretrained

    if "lite" in list_pretrained() and "lite-tech" in list_pretrained():
        return ["lite", "lite-tech"]
    run = ROOT / "runs" / "lite"
    if (run / "declip.safetensors").is_file() and (run / "iqa-tech.safetensors").is_file():
        return [str(run / "declip.safetensors"), str(run / "iqa-tech.safetensors")]
    raise ValueError(f"{_HERE}: no 'lite'/'lite-tech' tags and no {run}/declip.safetensors + iqa-tech.safetensors; "
                     "pass --declip and --checkpoint")


def load_model(declip: str, checkpoint: str, head: str | None = None) -> object:
    """declip_tech with the given head ('zeroshot') or the checkpoint's head."""
    from declip_core.inference import load_declip
    from declip_core.iqa import create_quality_model

    dc = load_declip(declip)
    if head == "zeroshot":
        return create_quality_model("tech", head="zeroshot", declip=dc)
    return create_quality_model("tech", checkpoint=checkpoint, declip=dc)


def machine_line() -> str:
    """CPU, cores and load average, for the record."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError as e:
        cpu = f"{cpu} (/proc/cpuinfo unreadable: {e})"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{cpu}; {os.cpu_count()} logical cores; load average (1/5/15 min) {load}"


def previous_section(path: Path, heading: str) -> str | None:
    """The '## ...' section of an earlier report that starts with heading, if any."""
    if not path.is_file():
        return None
    for part in path.read_text().split("\n## ")[1:]:
        if ("## " + part).startswith(heading):
            text = ("## " + part).strip()
            return text.split("\n\n(kept from an earlier run")[0].split("\n\n(kept from the previous run")[0]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--declip", default=None, help="DeCLIP tag or checkpoint (default: lite tag or runs/lite)")
    ap.add_argument("--checkpoint", default=None, help="tech head tag or checkpoint (default: lite-tech or runs/lite)")
    ap.add_argument("--size", type=int, default=256, help="side of the square test crops (I&2T crops are 256)")
    ap.add_argument("--photos", nargs="*", default=list(DEFAULT_HELDOUT_PHOTOS))
    ap.add_argument("--n-speed", type=int, default=64, help="files for the speed run (RSS at N/4 and N)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--brisque-n", type=int, default=16, help="files BRISQUE is timed on")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "iqa_benchmark.md"))
    ap.add_argument("--json", default=None, help="also write the raw figures as JSON")
    ap.add_argument("--_rss-child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.n_speed < 8 or a.repeat < 1 or a.size < 32:
        raise ValueError(f"{_HERE}: need --n-speed >= 8, --repeat >= 1, --size >= 32")
    if a._rss_child:
        rss_child([a.declip, a.checkpoint], a._rss_child, a.batch_size, a.workers)
        return 0
    model_args = [a.declip, a.checkpoint] if a.declip and a.checkpoint else default_model_args()
    machine = machine_line()
    print(f"machine: {machine}\nmodel: declip={model_args[0]} head={model_args[1]}", flush=True)
    model = load_model(*model_args)
    out = Path(a.out)
    kept = {h: previous_section(out, h) if skip else None
            for skip, h in ((a.skip_quality, "## Quality"), (a.skip_speed, "## Speed"))}
    sections = [f"# IQA benchmark\n\nGenerated by `python benchmarks/bench_iqa.py` on "
                f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.\n\nMachine at start: {machine}. "
                f"DeCLIP `{model_args[0]}` (sha256 {str(model.declip.checkpoint_sha256)[:12]}), "  # type: ignore[attr-defined]
                f"head `{model_args[1]}`. The machine is shared, so timings are noisy."]
    figures: dict[str, object] = {"machine": machine, "model": model_args}
    if kept["## Quality"]:
        sections.append(kept["## Quality"] + "\n\n(kept from an earlier run: this run skipped it)")
    if not a.skip_quality:
        zs = load_model(*model_args, head="zeroshot")
        metrics = [Metric("declip_tech (default head)", declip_scorer(model), False),
                   Metric("declip_tech (zero-shot head)", declip_scorer(zs), False),
                   brisque_scorer(), piqe_scorer()]
        print("quality ...", flush=True)
        q = quality_tables(metrics, a.photos, a.size)
        figures["quality"] = q
        md = quality_markdown(q)
        print("\n" + md + "\n", flush=True)
        sections.append(f"## Quality on held-out photos ({', '.join(a.photos)}; {a.size}x{a.size} crops)\n\n"
                        "Mean within-group SRCC of score vs severity (group = photo x type, levels 0..5 with the "
                        "clean crop as 0; higher = better for every metric) and 2AFC accuracy over pairs at "
                        "different levels (ties count 0.5). Held-out types and photos were never seen in "
                        "training; the training types (on held-out photos) are a reference.\n\n" + md)
    if kept["## Speed"]:
        sections.append(kept["## Speed"] + "\n\n(kept from an earlier run: this run skipped it)")
    if not a.skip_speed:
        print("speed ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            paths = make_files(Path(tmp), a.n_speed)
            s = speed(model, model_args, paths, a.batch_size, a.workers, a.repeat, a.brisque_n)
        figures["speed"] = s
        md = speed_markdown(s)
        print("\n" + md + "\n", flush=True)
        sections.append("## Speed and memory (CPU)\n\n" + md + f"\n\nMachine after the run: {machine_line()}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n\n".join(sections) + "\n")
    print(f"wrote {out}")
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
