"""DeCLIP quality vs BRISQUE, PIQE and NIQE on held-out photos, per-metric throughput on the same
512x512 files, and the speed/memory of batch scoring.

    python benchmarks/bench_iqa.py [--i2t DIR --split test] [--declip PATH --checkpoint PATH] [--size 256]
                                   [--niqe-params {data}/niqe/niqe_pris_params.npz] [--data DIR] [--n-files 32]
                                   [--skip-quality] [--skip-throughput] [--skip-speed]
                                   [--out docs/benchmarks/iqa_benchmark.md]

Quality: clean crops of the held-out (test-split) photos of a built I&2T set (`--i2t`, `--split test`;
never trained on, never used to choose anything), or the named sample photos (`--photos`, centre square
crop resized to --size) when no set is given, under every distortion type at levels 1..5 with the clean
crop as level 0. Types are reported in two splits: the held-out types (never used in training:
`--heldout-types`, default the training config's) and the training types. Per ladder (crop x type): SRCC
of the score against -level, and 2AFC accuracy over the pairs at different levels (the less distorted
should score better; a tie counts 0.5). Scores are oriented so higher = better for every metric
(BRISQUE, PIQE and NIQE negated). A metric constant within a ladder gets SRCC 0 there (no information),
never a skipped ladder. Metrics: declip_tech (default head and zero-shot head, from one embedding pass),
BRISQUE (PyPI brisque, via benchmarks/brisque_compat.py), pyiqa's PIQE and pyiqa's NIQE with the
original NIQE pristine-model parameters read from a local file (`--niqe-params`; pyiqa would download
them; see benchmarks/niqe_params.py). Attributes: per attribute, within-ladder SRCC of the default
model's P(good) over its own family's types.

Throughput: images/s of each metric on the same N 512x512 JPEG files, decode + score, one process,
interleaved in one run. Speed: images/s of `declip_core.scoring.score_files` next to the raw backbone
forward pass, and peak RSS (each in a fresh process). Not a test: figures depend on the machine and its
load.
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
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from declip_core.training.data.distortions import DISTORTIONS, N_LEVELS, apply_distortion
from declip_core.io import load_image
from declip_core.samples import sample_path
from declip_core.training.config import DEFAULT_HELDOUT_PHOTOS, DEFAULT_HELDOUT_TYPES
from declip_core.training.data_root import add_data_argument, expand_args
from declip_core.training.ranking import group_2afc, group_srcc

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


def heldout_crops(i2t: str | Path, split: str, per_photo: int, max_photos: int | None = None
                  ) -> dict[str, np.ndarray]:
    """Clean crops of a built I&2T set's `split` photos: 'photo#k' -> (S, S, 3) uint8, at most `per_photo`
    per photo (in manifest order), at most `max_photos` photos (sorted by id)."""
    from declip_core.training.data.manifest import read_manifest

    rows = [r for r in read_manifest(i2t, splits=[split]) if r["perc_key"] == "clean" and not r.chain]
    if not rows:
        raise ValueError(f"{_HERE}: {i2t} has no clean rows in split {split!r}")
    by: dict[str, list] = {}
    for r in rows:
        by.setdefault(str(r["photo_id"]), []).append(r)
    photos = sorted(by)[: max_photos or None]
    out: dict[str, np.ndarray] = {}
    for p in photos:
        for k, r in enumerate(by[p][:per_photo]):
            try:
                with Image.open(r.path) as im:
                    out[f"{p}#{k}"] = np.asarray(im.convert("RGB")).copy()
            except OSError as e:
                raise ValueError(f"{_HERE}: {r.path}: cannot read clean crop: {e}") from e
    return out


def collection_crops(crops_jsonl: str | Path, split: str, per_photo: int, max_photos: int | None = None
                     ) -> dict[str, np.ndarray]:
    """Clean crops of the photo collection's `split` photos (training/gather_photos.py's crops.jsonl: one JSON
    record per crop with crop_id, photo_id, split and file relative to the listing's folder)."""
    root = Path(crops_jsonl).parent
    by: dict[str, list[dict]] = {}
    for line in Path(crops_jsonl).read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            if rec.get("split") == split:
                by.setdefault(str(rec["photo_id"]), []).append(rec)
    if not by:
        raise ValueError(f"{_HERE}: {crops_jsonl} lists no crop in split {split!r}")
    out: dict[str, np.ndarray] = {}
    for p in sorted(by)[: max_photos or None]:
        for k, rec in enumerate(sorted(by[p], key=lambda r: r["crop_id"])[:per_photo]):
            try:
                with Image.open(root / rec["file"]) as im:
                    out[f"{p}#{k}"] = np.asarray(im.convert("RGB")).copy()
            except OSError as e:
                raise ValueError(f"{_HERE}: {root / rec['file']}: cannot read clean crop: {e}") from e
    return out


class ScoreCache:
    """Scores of a deterministic metric per image content (sha256 of the pixels), kept in one JSON file per
    metric under `folder`, so a re-run (e.g. with new DeCLIP weights) does not recompute BRISQUE/PIQE/NIQE."""

    def __init__(self, folder: str | Path, metric: Metric) -> None:
        import hashlib

        self._h = lambda im: hashlib.sha256(np.ascontiguousarray(im).tobytes() + str(im.shape).encode()).hexdigest()
        self.metric = metric
        safe = "".join(c if c.isalnum() else "_" for c in metric.name)
        self.path = Path(folder) / f"{safe}.json"
        self.table: dict[str, float] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def score(self, images: Sequence[np.ndarray]) -> np.ndarray:
        keys = [self._h(im) for im in images]
        todo = [i for i, k in enumerate(keys) if k not in self.table]
        if todo:
            new = self.metric.score([images[i] for i in todo])
            self.table.update({keys[i]: float(v) for i, v in zip(todo, new)})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.table))
            os.replace(tmp, self.path)
        return np.array([self.table[k] for k in keys])

    def cached(self) -> Metric:
        return Metric(self.metric.name, self.score, self.metric.lower_better)


@dataclass(frozen=True)
class DistortionSet:
    """Unique images and, per group 'crop|type', the image index of each level 0..5."""

    images: list[np.ndarray]
    groups: dict[str, list[int]]  # group -> image index per level (index 0 = the clean crop)


def build_set(photos: Sequence[str] | dict[str, np.ndarray], types: Sequence[str], size: int, seed: int = 0
              ) -> DistortionSet:
    """Clean crops (shared by every group of their crop) and each type at levels 1..N_LEVELS.

    photos: sample photo names (centre crops resized to `size`) or name -> uint8 crop."""
    unknown = [t for t in types if t not in DISTORTIONS]
    if unknown:
        raise ValueError(f"{_HERE}: unknown distortion types {unknown}")
    crops = photos if isinstance(photos, dict) else {p: photo_crop(p, size) for p in photos}
    images: list[np.ndarray] = []
    groups: dict[str, list[int]] = {}
    for p, clean in crops.items():
        images.append(clean)
        ci = len(images) - 1
        for t in types:
            idx = [ci]
            for lv in range(1, N_LEVELS + 1):
                images.append(apply_distortion(clean, t, lv, seed=seed))
                idx.append(len(images) - 1)
            groups[f"{p}|{t}"] = idx
    return DistortionSet(images, groups)


def summarize(scores: np.ndarray, ds: DistortionSet, lower_better: bool) -> dict[str, dict[str, float]]:
    """type -> {'srcc': mean over ladders, '2afc': pooled accuracy}, plus 'overall' over all ladders."""
    oriented = -np.asarray(scores, dtype=float) if lower_better else np.asarray(scores, dtype=float)
    per_type: dict[str, tuple[list[float], float, int]] = {}
    for g, idx in ds.groups.items():
        t = g.rsplit("|", 1)[1]
        sr, (c, n) = group_srcc(oriented[idx]), group_2afc(oriented[idx])
        rs, cc, nn = per_type.get(t, ([], 0.0, 0))
        per_type[t] = (rs + [sr], cc + c, nn + n)
    out = {t: {"srcc": float(np.mean(r)), "2afc": c / n} for t, (r, c, n) in per_type.items()}
    all_r = [r for rs, _, _ in per_type.values() for r in rs]
    out["overall"] = {"srcc": float(np.mean(all_r)),
                      "2afc": sum(c for _, c, _ in per_type.values()) / sum(n for _, _, n in per_type.values())}
    return out


def _to_tensor(images: Sequence[np.ndarray]):
    import torch

    return torch.stack([torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).float() / 255.0 for im in images])


def declip_scorer(model: object, batch_size: int = 16) -> Scorer:
    """Scores from a QualityModel on uint8 images (tensor path, as pyiqa calls it)."""
    import torch

    def score(images: Sequence[np.ndarray]) -> np.ndarray:
        out, i = [], 0
        with torch.inference_mode():
            while i < len(images):  # batches of up to batch_size consecutive images of one shape
                j = i + 1
                while j < len(images) and j - i < batch_size and images[j].shape == images[i].shape:
                    j += 1
                out.append(model(_to_tensor(images[i:j])).float().numpy())  # type: ignore[operator]
                i = j
        return np.concatenate(out)

    return score


class SharedDeclip:
    """One embedding pass per image list for several DeCLIP outputs: the default head's score, the zero-shot
    head's score and the attribute head's P(good) all come from the same per-view backbone features and
    perceptual embeddings ((B, K, D), (B, K, P)), exactly as QualityModel.forward / attribute_scores compute them."""

    def __init__(self, model: object, batch_size: int = 16) -> None:
        from declip_core.iqa.model import zero_shot_head

        self.model, self.batch_size = model, batch_size
        self.zeroshot = zero_shot_head(model.declip, "tech").eval()  # type: ignore[attr-defined]
        self._key: int | None = None
        self._views: list = []

    def _embedded(self, images: Sequence[np.ndarray]) -> list:
        """Per batch (features (B, K, D), perceptual (B, K, P), per-cell features (B, K, C, D) or None)."""
        import torch

        if self._key != id(images):
            self._views = []
            with torch.inference_mode():
                i = 0
                while i < len(images):  # batches of consecutive images of one shape
                    j = i + 1
                    while j < len(images) and j - i < self.batch_size and images[j].shape == images[i].shape:
                        j += 1
                    v = self.model.make_views(_to_tensor(images[i:j]))  # type: ignore[attr-defined]
                    self._views.append(self.model._embed_views(v))  # type: ignore[attr-defined]
                    i = j
            self._key = id(images)
        return self._views

    @staticmethod
    def _flat(g):
        return g.flatten(0, 1) if g is not None else None

    def _head(self, score, images: Sequence[np.ndarray]) -> np.ndarray:
        """score(features (N, D), perceptual (N, P), grid (N, C, D) or None) -> (N,), averaged over each image's views."""
        import torch

        with torch.inference_mode():
            return np.concatenate([score(f.flatten(0, 1), p.flatten(0, 1), self._flat(g)).view(p.shape[0], p.shape[1])
                                   .mean(1).float().numpy() for f, p, g in self._embedded(images)])

    def default(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._head(self.model.score_embedded, images)  # type: ignore[attr-defined]

    def zero_shot(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return self._head(lambda f, p, g: self.zeroshot(p), images)

    def attributes(self, images: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """attribute -> (N,) P(good) of the model's attribute head, averaged over views."""
        import torch

        ah = self.model.attribute_head  # type: ignore[attr-defined]
        with torch.inference_mode():
            probs = np.concatenate([self.model.attribute_probs_embedded(  # type: ignore[attr-defined]
                                        f.flatten(0, 1), p.flatten(0, 1))
                                    .view(p.shape[0], p.shape[1], -1).mean(1).numpy()
                                    for f, p, _ in self._embedded(images)])
        return {a: probs[:, j] for j, a in enumerate(ah.attributes)}


def piqe_scorer() -> Metric:
    """pyiqa's PIQE (no weights to download; lower is better)."""
    import pyiqa
    import torch

    m = pyiqa.create_metric("piqe", device="cpu")

    def score(images: Sequence[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            return np.array([float(m(_to_tensor([im]))) for im in images])

    return Metric("PIQE (pyiqa)", score, bool(m.lower_better))


def niqe_scorer(params: str | Path) -> Metric:
    """pyiqa's NIQE with the original pristine-model parameters from a local file (never downloads).

    params: basicsr's niqe_pris_params.npz (mu_pris_param, cov_pris_param) or a .mat with pyiqa's keys
    (mu_prisparam, cov_prisparam); see benchmarks/niqe_params.py. Lower is better."""
    import pyiqa
    import scipy.io
    import torch

    p = Path(params)
    if not p.is_file():
        raise ValueError(f"{_HERE}: NIQE parameters {p} not found; run `python benchmarks/niqe_params.py {p}`")
    if p.suffix == ".npz":
        d = np.load(p)
        mat = Path(tempfile.gettempdir()) / f"niqe_{os.getpid()}.mat"
        scipy.io.savemat(mat, {"mu_prisparam": d["mu_pris_param"], "cov_prisparam": d["cov_pris_param"]})
        p = mat
    m = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=str(p))

    def score(images: Sequence[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            return np.array([float(m(_to_tensor([im]))) for im in images])

    return Metric("NIQE (pyiqa, original params)", score, bool(m.lower_better))


def brisque_scorer() -> Metric:
    """BRISQUE (PyPI brisque 0.2 through brisque_compat; lower is better)."""
    from brisque_compat import CompatBRISQUE

    b = CompatBRISQUE()
    return Metric("BRISQUE", lambda images: np.array([b.score_array(im) for im in images]), True)


def classical_metrics(niqe_params: str | Path) -> tuple[list[Metric], dict[str, str]]:
    """The classical baselines that can run here, and {name: why} for those that cannot (they get a
    'missing: <why>' row in the tables instead of being dropped)."""
    metrics: list[Metric] = []
    missing: dict[str, str] = {}
    for name, make in (("BRISQUE", brisque_scorer), ("PIQE (pyiqa)", piqe_scorer)):
        try:
            metrics.append(make())
        except (ImportError, OSError, ValueError, RuntimeError) as e:
            missing[name] = f"{type(e).__name__}: {e}"
    niqe = "NIQE (pyiqa, original params)"
    if not Path(niqe_params).is_file():
        missing[niqe] = (f"no parameters at {niqe_params} (pyiqa's NIQE would download them); run "
                         f"`python benchmarks/niqe_params.py {niqe_params}`")
    else:
        try:
            metrics.append(niqe_scorer(niqe_params))
        except (ImportError, OSError, ValueError, RuntimeError, KeyError) as e:
            missing[niqe] = f"{niqe_params}: {type(e).__name__}: {e}"
    return metrics, missing


def with_missing_rows(md: str, missing: dict[str, str], n_values: int) -> str:
    """The markdown with one row per missing metric ('missing: <why>', then '-' cells) after the rows of its
    first table (a table has n_values value columns)."""
    if not missing:
        return md
    rows = [f"| {name} | missing: {why.replace('|', '/')} |" + " - |" * (n_values - 1) for name, why in missing.items()]
    lines = md.split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[:end] + rows + lines[end:])


def split_types(heldout: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """'held-out types' / 'training types' -> the types of each."""
    return {"held-out types": tuple(heldout), "training types": tuple(t for t in DISTORTIONS if t not in heldout)}


def quality_tables(metrics: Sequence[Metric], photos: Sequence[str] | dict[str, np.ndarray], size: int,
                   heldout_types: Sequence[str] = HELDOUT_TYPES, shared: SharedDeclip | None = None,
                   ) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """split ('held-out types' / 'training types') -> metric -> type -> figures; with `shared`, also
    'attributes' -> attribute -> {'srcc', '2afc', 'types'} over each attribute's own family."""
    res: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    attr_scores: dict[str, dict[str, np.ndarray]] = {}
    sets: dict[str, DistortionSet] = {}
    for split, types in split_types(heldout_types).items():
        ds = build_set(photos, types, size)
        sets[split] = ds
        res[split] = {}
        for m in metrics:
            t0 = time.perf_counter()
            res[split][m.name] = summarize(m.score(ds.images), ds, m.lower_better)
            print(f"  {split}: {m.name} on {len(ds.images)} images in {time.perf_counter() - t0:.1f}s", flush=True)
        if shared is not None:
            attr_scores[split] = shared.attributes(ds.images)
    if shared is not None:
        res["attributes"] = attribute_figures(sets, attr_scores)
    return res


def attribute_figures(sets: dict[str, DistortionSet], scores: dict[str, dict[str, np.ndarray]]
                      ) -> dict[str, dict[str, float]]:
    """attribute -> within-ladder SRCC / 2AFC of its P(good) over its own family's types (both splits)."""
    from declip_core.training.quality_fit import attribute_family

    out: dict[str, dict[str, float]] = {}
    for a in next(iter(scores.values())):
        fam = set(attribute_family(a))
        rs, c, n, types = [], 0.0, 0, set()
        for split, ds in sets.items():
            for g, idx in ds.groups.items():
                t = g.rsplit("|", 1)[1]
                if t in fam:
                    s = scores[split][a][idx]
                    rs.append(group_srcc(s))
                    cc, nn = group_2afc(s)
                    c, n, types = c + cc, n + nn, types | {t}
        out[a] = {"srcc": float(np.mean(rs)) if rs else float("nan"), "2afc": c / n if n else float("nan"),
                  "types": ", ".join(sorted(types))}  # type: ignore[dict-item]
    return out


def quality_markdown(res: dict[str, dict[str, dict[str, dict[str, float]]]]) -> str:
    """Overall table, then a per-type table for each split, then the attribute table."""
    splits = [k for k in res if k != "attributes"]
    names = list(res[splits[0]])
    lines = ["| metric | held-out types SRCC | held-out types 2AFC | training types SRCC | "
             "training types 2AFC | all types SRCC | min type SRCC |", "|---|---|---|---|---|---|---|"]
    for n in names:
        h, t = res["held-out types"][n]["overall"], res["training types"][n]["overall"]
        per = [v["srcc"] for sp in splits for k, v in res[sp][n].items() if k != "overall"]
        nh = len(res["held-out types"][n]) - 1
        nt = len(res["training types"][n]) - 1
        allsr = (h["srcc"] * nh + t["srcc"] * nt) / (nh + nt)
        lines.append(f"| {n} | {h['srcc']:.3f} | {h['2afc']:.3f} | {t['srcc']:.3f} | {t['2afc']:.3f} | "
                     f"{allsr:.3f} | {min(per):.2f} |")
    for split in splits:
        per = res[split]
        types = [t for t in per[names[0]] if t != "overall"]
        lines += ["", f"{split}: within-ladder SRCC / 2AFC per type", "",
                  "| type | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for t in types:
            lines.append(f"| {t} | " + " | ".join(f"{per[n][t]['srcc']:.2f} / {per[n][t]['2afc']:.2f}"
                                                  for n in names) + " |")
    if "attributes" in res:
        lines += ["", "Attributes (default model's attribute head): within-ladder SRCC / 2AFC of P(good) against "
                  "the level of its own family's types", "", "| attribute | SRCC | 2AFC | family types |",
                  "|---|---|---|---|"]
        for a, f in res["attributes"].items():
            lines.append(f"| {a} | {f['srcc']:.3f} | {f['2afc']:.3f} | {f['types']} |")
    return "\n".join(lines)


def throughput(metrics: Sequence[Metric], paths: Sequence[Path], declip_model: object | None, repeat: int = 1
               ) -> dict[str, float]:
    """images/s of each metric on the same files, decode + score in this process, interleaved; best of
    `repeat`. declip_model (a QualityModel) is timed through declip_core.scoring.score_files (workers=0)."""
    from declip_core.io import load_rgb_array

    runs: dict[str, list[float]] = {}
    for _ in range(repeat):
        if declip_model is not None:
            from declip_core.scoring.files import score_files

            t0 = time.perf_counter()
            scores, errors = score_files(paths, declip_model, batch_size=16, workers=0)  # type: ignore[arg-type]
            if errors:
                raise RuntimeError(f"{_HERE}: score_files failed: {list(errors.items())[:3]}")
            runs.setdefault("declip_tech (score_files)", []).append(len(paths) / (time.perf_counter() - t0))
        for m in metrics:
            t0 = time.perf_counter()
            for p in paths:
                m.score([load_rgb_array(p)])
            runs.setdefault(m.name, []).append(len(paths) / (time.perf_counter() - t0))
    return {k: max(v) for k, v in runs.items()}


def throughput_markdown(tp: dict[str, float], n: int, size: int) -> str:
    ref = tp.get("BRISQUE")
    lines = [f"{n} JPEG files of {size}x{size}, decode + score, one process, torch threads as set; best of the "
             "interleaved repeats.", "", "| metric | images/s | vs BRISQUE |", "|---|---|---|"]
    for k, v in tp.items():
        lines.append(f"| {k} | {v:.2f} | {v / ref:.2f}x |" if ref else f"| {k} | {v:.2f} | - |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- speed and memory
def make_files(folder: Path, n: int, seed: int = 0, long_side: int = 640, square: bool = False) -> list[Path]:
    """n JPEG files: random crops of the sample photos, long side `long_side` (square crops of that side
    when `square`), quality 60..95."""
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
        if square:
            cw = ch = min(cw, ch)
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
    from declip_core.scoring.files import score_files

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

    from declip_core.embed import decode_views
    from declip_core.io import DEFAULT_MAX_PIXELS
    from declip_core.scoring.files import score_files

    dc = model.declip  # type: ignore[attr-defined]
    cfg, views = dc.backbone.info.preprocess, model.views  # type: ignore[attr-defined]

    def prep(p: Path) -> torch.Tensor:  # exactly score_files' decoding: (K, 3, S, S) in 0..1
        return decode_views(str(p), cfg, [views], DEFAULT_MAX_PIXELS)[0]

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


def write_report(out: str | Path, text: str) -> None:
    """Write a benchmark's markdown report (creating its folder) and print it."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)
    print("\n" + text)


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
    ap.add_argument("--i2t", default=None, help="a built I&2T set: its --split photos' clean crops are the test images")
    ap.add_argument("--crops-jsonl", default=None,
                    help="the photo collection's crops.jsonl: its --split crops are the test images (instead of --i2t)")
    ap.add_argument("--split", default="test", help="the split of never-trained photos (default test)")
    ap.add_argument("--score-cache", default=None,
                    help="folder caching BRISQUE/PIQE/NIQE scores per image content (re-runs skip them)")
    ap.add_argument("--only-classical", action="store_true", help="quality: only the classical metrics (fills the cache)")
    ap.add_argument("--crops-per-photo", type=int, default=1, help="clean crops per held-out photo (with --i2t)")
    ap.add_argument("--max-photos", type=int, default=None, help="at most this many held-out photos (with --i2t)")
    ap.add_argument("--heldout-types", nargs="*", default=list(HELDOUT_TYPES),
                    help="distortion types never used in training (default: the training config's)")
    ap.add_argument("--size", type=int, default=256, help="side of the square sample-photo crops (without --i2t)")
    ap.add_argument("--photos", nargs="*", default=list(DEFAULT_HELDOUT_PHOTOS), help="sample photos (without --i2t)")
    add_data_argument(ap)
    ap.add_argument("--niqe-params", default="{data}/niqe/niqe_pris_params.npz",
                    help="NIQE pristine parameters (npz or mat); when missing, NIQE gets a 'missing: <why>' row")
    ap.add_argument("--n-files", type=int, default=32, help="512x512 files for the per-metric throughput")
    ap.add_argument("--n-speed", type=int, default=64, help="files for the speed run (RSS at N/4 and N)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--brisque-n", type=int, default=16, help="files BRISQUE is timed on")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "iqa_benchmark.md"))
    ap.add_argument("--json", default=None, help="also write the raw figures as JSON")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    ap.add_argument("--_rss-child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    expand_args(a, ["niqe_params", "crops_jsonl", "i2t", "score_cache", "out", "json"])
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    if a.n_speed < 8 or a.repeat < 1 or a.size < 32 or a.n_files < 1:
        raise ValueError(f"{_HERE}: need --n-speed >= 8, --repeat >= 1, --size >= 32, --n-files >= 1")
    if a._rss_child:
        rss_child([a.declip, a.checkpoint], a._rss_child, a.batch_size, a.workers)
        return 0
    model_args = [a.declip, a.checkpoint] if a.declip and a.checkpoint else default_model_args()
    machine = machine_line()
    cmd = "python benchmarks/bench_iqa.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"machine: {machine}\nmodel: declip={model_args[0]} head={model_args[1]}", flush=True)
    model = load_model(*model_args)
    out = Path(a.out)
    heads = [(a.skip_quality, "## Quality"), (a.skip_throughput, "## Throughput"), (a.skip_speed, "## Speed")]
    kept = {h: previous_section(out, h) if skip else None for skip, h in heads}
    sections = [f"# IQA benchmark\n\nGenerated by `{cmd.strip()}` on "
                f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.\n\nMachine at start: {machine}. "
                f"DeCLIP `{model_args[0]}` (sha256 {str(model.declip.checkpoint_sha256)[:12]}), "  # type: ignore[attr-defined]
                f"head `{model_args[1]}`. The machine is shared, so timings are noisy."]
    figures: dict[str, object] = {"machine": machine, "model": model_args, "command": cmd}
    classical, missing = classical_metrics(a.niqe_params)
    figures["missing"] = missing
    for name, why in missing.items():
        print(f"{name}: missing: {why}", flush=True)
    cached = [ScoreCache(a.score_cache, m).cached() for m in classical] if a.score_cache else classical
    if kept["## Quality"]:
        sections.append(kept["## Quality"] + "\n\n(kept from an earlier run: this run skipped it)")
    if not a.skip_quality:
        shared = SharedDeclip(model, a.batch_size)
        metrics = [Metric("declip_tech (default head)", shared.default, False),
                   Metric("declip_tech (zero-shot head)", shared.zero_shot, False), *cached]
        if a.only_classical:
            metrics, shared = list(cached), None
        photos: Sequence[str] | dict[str, np.ndarray]
        if a.crops_jsonl:
            photos = collection_crops(a.crops_jsonl, a.split, a.crops_per_photo, a.max_photos)
            n_ph = len({k.split("#")[0] for k in photos})
            where = (f"{n_ph} held-out photos (split `{a.split}` of `{a.crops_jsonl}`; never trained on), {len(photos)} "
                     f"clean crops of {next(iter(photos.values())).shape[0]} px")
        elif a.i2t:
            photos = heldout_crops(a.i2t, a.split, a.crops_per_photo, a.max_photos)
            n_ph = len({k.split("#")[0] for k in photos})
            where = (f"{n_ph} held-out photos (split `{a.split}` of `{a.i2t}`; never trained on), {len(photos)} clean "
                     f"crops of {next(iter(photos.values())).shape[0]} px")
        else:
            photos = a.photos
            where = f"sample photos {', '.join(a.photos)}; {a.size}x{a.size} centre crops"
        print(f"quality on {where} ...", flush=True)
        q = quality_tables(metrics, photos, a.size, a.heldout_types, shared=shared)
        figures["quality"] = q
        md = with_missing_rows(quality_markdown(q), missing, 6)
        print("\n" + md + "\n", flush=True)
        sections.append(f"## Quality on held-out photos ({where})\n\n"
                        "Mean within-ladder SRCC of score vs severity (ladder = crop x type, levels 0..5 with the "
                        "clean crop as 0; higher = better for every metric) and 2AFC accuracy over pairs at "
                        "different levels (ties count 0.5). Held-out types "
                        f"({', '.join(a.heldout_types)}) were never used in training; the photos never either. "
                        "`all types SRCC` averages over every type; `min type SRCC` is the weakest type."
                        + "\n\n" + md)
    if kept["## Throughput"]:
        sections.append(kept["## Throughput"] + "\n\n(kept from an earlier run: this run skipped it)")
    if not a.skip_throughput:
        print("throughput ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            paths = make_files(Path(tmp), a.n_files, long_side=512, square=True)
            tp = throughput(classical, paths, model, repeat=1)
        figures["throughput"] = tp
        md = with_missing_rows(throughput_markdown(tp, a.n_files, 512), missing, 2)
        print("\n" + md + "\n", flush=True)
        sections.append("## Throughput per metric (CPU, same files)\n\n" + md)
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
