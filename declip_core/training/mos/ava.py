"""The aesthetic head (`aes`) trained on AVA (Murray, Marchesotti and Perronnin, "AVA: A large-scale database
for aesthetic visual analysis", CVPR 2012) and its AVA test report.

* Data: AVA in its official layout, read by `declip_core.training.data.sources.ava` (``AVA.txt``,
  ``images/<id>.jpg``, ``aesthetics_image_lists/``). The target is each image's mean rating on 1..10.
* Split: when the official lists are present, the partition that ships with AVA
  (``generic_ls_train.jpgl`` / ``generic_test.jpgl``, the standard train/test split of AVA papers); images
  of AVA.txt in neither list are left out. Without them, a deterministic split by image id: an image is
  in the test split when ``u("test", id) < test_fraction``, where ``u(salt, id)`` is the first 8 hex digits
  of ``sha256(f"ava:{salt}:{id}")`` read as an integer / 2**32 (uniform in 0..1, independent of file
  order). Validation images (the epoch choice) are the ceil(val_fraction x n) training-split images (at least
  2) of lowest ``u("val", id)``; they are never fitted on.
* Head: the kind `lite-aes` ships, a `FeatureHead` on the backbone features of the views of
  `declip_core.iqa.model.default_views('aes')` (read at run time), fitted by
  `declip_core.training.quality_fit.fit_feature_head` on ranking pairs built from the mean scores: every
  training image is paired with `partners` random others and a pair is kept when the two means differ by at
  least `margin` (the higher mean is the better image). An image with several views pairs view k with view
  k of its partner (modulo each image's view count). The epoch is chosen by the SRCC on the validation
  images (their mean head score per 0.1-wide bin of the mean rating, against the bin).
* Report on the test split: SRCC, KRCC, PLCC (after the 4-parameter logistic, as the other protocols, and
  linear), and binary accuracy: an image is "high" when its mean rating is above 5 (the convention of AVA
  papers since Murray et al. 2012), predicted "high" when its score is above the score threshold that
  classifies the training images best (test labels never choose it); the majority-class accuracy of
  the test split is reported beside it.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from declip_core.inference import DeCLIP
from declip_core.iqa.model import (
    QualityModel,
    create_quality_model,
    default_views,
    save_quality_head,
    zero_shot_head,
)
from declip_core.views import ViewPolicy
from declip_core.training.config import FeatureFitConfig
from declip_core.training.data.sources import check_images
from declip_core.training.data.sources._ava_files import SPLIT_LISTS
from declip_core.training.data.sources.ava import read_ava
from declip_core.training.mos.cache import PerceptualCache, _default_cache_dir
from declip_core.training.mos.embed import ViewEmbeddings
from declip_core.training.mos.fit import _pool, predict
from declip_core.training.mos.protocol import evaluate
from declip_core.training.mos.sets import Problem
from declip_core.training.mos.train import _resolve_declip
from declip_core.training.quality_fit import Ladders, fit_feature_head

_HERE = "declip_core/training/mos/ava.py"
HIGH_ABOVE = 5.0  # binary label: mean rating above 5 is "high" (AVA convention, 1..10 scale)
ATTRIBUTE_HEADS = ("default", "zeroshot")


def id_fraction(salt: str, image_id: str) -> float:
    """u(salt, id) in [0, 1): the first 8 hex digits of sha256('ava:<salt>:<id>') / 2**32."""
    return int(hashlib.sha256(f"ava:{salt}:{image_id}".encode()).hexdigest()[:8], 16) / 2**32


@dataclass(frozen=True)
class AvaPart:
    """Images of one part of the split: paths (N,), mean ratings (N,) float64 on 1..10, image ids (N,)."""

    paths: tuple[str, ...]
    mos: np.ndarray
    ids: tuple[str, ...]

    def subset(self, idx: np.ndarray) -> AvaPart:
        ix = np.asarray(idx, dtype=np.int64)
        return AvaPart(tuple(self.paths[i] for i in ix), self.mos[ix], tuple(self.ids[i] for i in ix))


@dataclass(frozen=True)
class AvaSplit:
    """train / val / test parts, how the split was made, the images left out and why."""

    train: AvaPart
    val: AvaPart
    test: AvaPart
    how: str  # 'official lists' or 'image-id hash (test_fraction=...)'
    unlisted: int  # images of AVA.txt in neither official list (left out)
    problems: list[Problem] = field(default_factory=list)  # (path, reason): missing files


def split_ava(root: str | Path, image_dir: str = "images", test_fraction: float = 0.08,
              val_fraction: float = 0.05) -> AvaSplit:
    """AVA under `root` split into train / val / test (module docstring). Missing image files are left out and
    listed in `problems`. Raises ValueError: bad fractions, unreadable label files (named by the importer), an
    official list that gives no image, or a part with fewer than 2 images."""
    if not (0.0 < test_fraction < 1.0 and 0.0 < val_fraction < 1.0):
        raise ValueError(f"{_HERE}: test_fraction and val_fraction must be in (0, 1), got {test_fraction}, "
                         f"{val_fraction}")
    records = read_ava(root, image_dir=image_dir)
    official = any(r.split is not None for r in records)
    if official:
        for relative, split in SPLIT_LISTS.items():
            if not any(r.split == split for r in records):
                raise ValueError(f"{Path(root) / relative}: lists no image of AVA.txt (the {split} split would be "
                                 "empty); restore the file or remove aesthetics_image_lists/ to split by image id")
        unlisted = sum(r.split is None for r in records)
        records = [r for r in records if r.split is not None]
        how = "official lists"
    else:
        unlisted = 0
        how = f"image-id hash (test_fraction={test_fraction})"
    present, missing = check_images(records)
    problems: list[Problem] = [(str(p), why) for p, why in missing]
    parts: dict[str, tuple[list[str], list[float], list[str]]] = {k: ([], [], []) for k in ("train", "val", "test")}
    ids = [Path(r.image_path).stem for r in present]
    in_test = [r.split == "test" if official else id_fraction("test", i) < test_fraction for r, i in zip(present, ids)]
    fit_ids = sorted((id_fraction("val", i), i) for i, t in zip(ids, in_test) if not t)
    val_ids = {i for _, i in fit_ids[: max(2, math.ceil(val_fraction * len(fit_ids)))]}
    for r, image_id, t in zip(present, ids, in_test):
        part = "test" if t else "val" if image_id in val_ids else "train"
        parts[part][0].append(str(r.image_path))
        parts[part][1].append(float(r.mos))  # type: ignore[arg-type]  # AVA records always carry a mean
        parts[part][2].append(image_id)
    out = {k: AvaPart(tuple(p), np.asarray(m, dtype=np.float64), tuple(i)) for k, (p, m, i) in parts.items()}
    small = [f"{k} {len(v.paths)}" for k, v in out.items() if len(v.paths) < 2]
    if small:
        raise ValueError(f"{_HERE}: {root}: the split ({how}) leaves too few present images ({', '.join(small)}; "
                         f"need at least 2 each; {len(problems)} missing, first: {problems[:3]})")
    return AvaSplit(out["train"], out["val"], out["test"], how, unlisted, problems)


def mos_pairs(mos: np.ndarray, margin: float = 0.5, partners: int = 8, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
    """(better, worse) image-index pairs, each (M,) int64: every image against `partners` others drawn at random
    (all others when there are no more than `partners`), kept when the means differ by >= margin (> 0).
    Deterministic for a seed. Raises ValueError on margin <= 0, partners < 1 or fewer than 2 images."""
    m = np.asarray(mos, dtype=np.float64).ravel()
    if margin <= 0 or partners < 1 or m.size < 2:
        raise ValueError(f"{_HERE}: need margin > 0, partners >= 1 and >= 2 images, got {margin}, {partners}, {m.size}")
    n = m.size
    if n - 1 <= partners:
        a, b = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(seed)
        a = np.repeat(np.arange(n), partners)
        b = (a + rng.integers(1, n, size=a.size)) % n  # never the image itself
    d = m[a] - m[b]
    keep = np.abs(d) >= margin
    a, b, d = a[keep], b[keep], d[keep]
    return np.where(d > 0, a, b).astype(np.int64), np.where(d > 0, b, a).astype(np.int64)


def view_pairs(owner: np.ndarray, better: np.ndarray, worse: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Image pairs -> view-row pairs: view k of the better image against view k of the worse one (modulo each
    image's view count; max of the two counts pairs per image pair). owner (V,): image of each row, rows of
    one image contiguous (as ViewEmbeddings from PerceptualCache)."""
    counts = np.bincount(owner, minlength=int(owner.max()) + 1 if owner.size else 0)
    if owner.size and not np.all(np.diff(owner) >= 0):
        raise ValueError(f"{_HERE}: view rows of an image must be contiguous and in image order")
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    nb, nw = counts[better], counts[worse]
    n = np.maximum(nb, nw)
    pair = np.repeat(np.arange(better.size), n)
    k = np.arange(pair.size) - np.repeat(np.cumsum(n) - n, n)  # 0..n-1 within each image pair
    rows_b = start[better[pair]] + k % nb[pair]
    rows_w = start[worse[pair]] + k % nw[pair]
    return torch.from_numpy(rows_b.astype(np.int64)), torch.from_numpy(rows_w.astype(np.int64))


def validation_ladder(owner: np.ndarray, mos: np.ndarray) -> Ladders:
    """The validation images as one 'ladder': level = round((10 - mean) * 10), i.e. 0.1-wide bins of the mean
    rating, lower level = better (declip_core.training.ranking.within_group_summary's convention)."""
    level = np.rint((10.0 - np.asarray(mos, dtype=np.float64)[owner]) * 10).astype(np.int64)
    return Ladders(np.arange(owner.size, dtype=np.int64), level, ["ava-val"] * owner.size, ["ava"] * owner.size)


def best_threshold(scores: np.ndarray, high: np.ndarray) -> float:
    """The score threshold t for which (score > t) matches the boolean labels `high` most often (midpoints between
    sorted distinct scores, and below the lowest and above the highest score, are the candidates)."""
    s = np.asarray(scores, dtype=np.float64)
    h = np.asarray(high, dtype=bool)
    if s.shape != h.shape or s.size == 0:
        raise ValueError(f"{_HERE}: need equal non-empty scores and labels, got {s.shape} and {h.shape}")
    u = np.unique(s)
    cand = np.concatenate([[u[0] - 1.0], (u[1:] + u[:-1]) / 2, [u[-1] + 1.0]])
    hs, ls = np.sort(s[h]), np.sort(s[~h])
    # correct(t) = #(high with score > t) + #(low with score <= t)
    correct = (hs.size - np.searchsorted(hs, cand, side="right")) + np.searchsorted(ls, cand, side="right")
    return float(cand[int(np.argmax(correct))])


@dataclass
class AvaReport:
    """AVA test-split figures of a trained head (module docstring), with the sizes and how the split was made."""

    split: str
    n_images: dict[str, int]
    srcc: float
    plcc: float  # after the 4-parameter logistic (nan-safe: linear when the fit fails, logistic_ok False)
    plcc_linear: float
    krcc: float
    logistic_ok: bool
    accuracy: float  # binary, mean rating > 5
    majority_accuracy: float  # the larger class's share of the test split
    threshold: float  # head score above which an image is predicted high (chosen on the training images)
    val_srcc: float  # SRCC of the trained head on the validation images (which chose its epoch)
    views: dict[str, Any]
    unlisted: int
    pairs: int  # ranking pairs of view rows trained on
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "problems": [list(p) for p in self.problems]}

    def markdown(self) -> str:
        """The figures as a markdown table with the split sizes and the skipped images."""
        f = lambda v: "nan" if isinstance(v, float) and math.isnan(v) else f"{v:.3f}"
        n = self.n_images
        head = (f"AVA test split ({self.split}): {n['test']} images; trained on {n['train']}, validated on "
                f"{n['val']}; views {self.views.get('policy')}")
        row = (f"| {f(self.srcc)} | {f(self.plcc)} | {f(self.plcc_linear)} | {f(self.krcc)} | {f(self.accuracy)} | "
               f"{f(self.majority_accuracy)} |")
        tail = (f"missing or unreadable images (skipped): {len(self.problems)}; in neither official list: "
                f"{self.unlisted}")
        table = ("| SRCC | PLCC (logistic) | PLCC (linear) | KRCC | accuracy (> 5) | majority class |\n"
                 "|---|---|---|---|---|---|")
        return f"{head}\n\n{table}\n{row}\n\n{tail}"


@dataclass
class AvaResult:
    """What train_ava made: the saved checkpoint, the model (QualityModel, metric 'aes') and the test report."""

    path: Path
    model: QualityModel
    report: AvaReport


def cached_features(cache: PerceptualCache, paths: Sequence[str], log: Callable[[str], None] | None = None,
                    chunk: int = 2048) -> tuple[np.ndarray, ViewEmbeddings, dict[str, str]]:
    """cache.get(paths), `chunk` images at a time, so every finished chunk is stored (an interrupted run resumes
    from the cache) and progress is logged. Returns (ok indices into paths, their ViewEmbeddings, errors)."""
    if chunk < 1:
        raise ValueError(f"{_HERE}: chunk must be >= 1, got {chunk}")
    oks, parts, errors = [], [], {}
    for start in range(0, len(paths), chunk):
        ok, ve, err = cache.get(paths[start : start + chunk])
        oks.append(ok + start)
        parts.append(ve)
        errors.update(err)
        if log and len(paths) > chunk:
            log(f"  {min(start + chunk, len(paths))}/{len(paths)} images")
    if not parts:
        return np.zeros(0, np.int64), ViewEmbeddings(np.zeros((0, 0), np.float32), np.zeros(0, np.int64)), errors
    return np.concatenate(oks), _pool(parts), errors


def _attribute_head(kind: str, dc: DeCLIP, device: str):
    if kind == "default":  # the shipped lite-aes's attribute head: retraining the score keeps the attributes
        try:
            return create_quality_model("aes", declip=dc, device=device).attribute_head
        except ValueError as e:
            raise ValueError(f"{_HERE}: attribute_head 'default' takes the attribute head of the shipped aes head, "
                             f"which does not load on this DeCLIP ({e}); use attribute_head 'zeroshot'") from e
    if kind == "zeroshot":
        return zero_shot_head(dc, "tech")  # as create_quality_model(head='zeroshot')
    raise ValueError(f"{_HERE}: attribute_head must be one of {ATTRIBUTE_HEADS}, got {kind!r}")


def train_ava(root: str | Path, out_dir: str | Path, declip: DeCLIP | str | Path | None = None, *,
              image_dir: str = "images", attribute_head: str = "default", fit: FeatureFitConfig | None = None,
              margin: float = 0.5, partners: int = 8, test_fraction: float = 0.08, val_fraction: float = 0.05,
              cache_dir: str | Path | None = None, batch_size: int = 32, workers: int = 1, device: str = "cpu",
              log: Callable[[str], None] | None = None) -> AvaResult:
    """Train the aes FeatureHead on AVA's training split, report on its test split (module docstring).

    Writes <out_dir>/iqa-aes.safetensors (the head checkpoint format of declip_core.iqa.model.save_quality_head:
    `create_quality_model('aes', checkpoint=out_dir, declip=...)` and `pyiqa.create_metric('declip_aes',
    checkpoint=...)` load it) and <out_dir>/ava_report.json. Backbone features of each image's views are cached
    under cache_dir (a PerceptualCache with output='features'). Missing and unreadable images are skipped and
    listed in the report. Raises ValueError (bad data layout, too few images, no ranking pair, bad arguments).
    """
    fit = fit or FeatureFitConfig()
    say = log or (lambda _m: None)
    if attribute_head not in ATTRIBUTE_HEADS:
        raise ValueError(f"{_HERE}: attribute_head must be one of {ATTRIBUTE_HEADS}, got {attribute_head!r}")
    if margin <= 0 or partners < 1:
        raise ValueError(f"{_HERE}: need margin > 0 and partners >= 1, got {margin} and {partners}")
    split = split_ava(root, image_dir, test_fraction, val_fraction)  # data errors before any model is loaded
    say(f"AVA split ({split.how}): train {len(split.train.paths)}, val {len(split.val.paths)}, "
        f"test {len(split.test.paths)} images; {len(split.problems)} missing")
    dc = _resolve_declip(declip, device)
    attr = _attribute_head(attribute_head, dc, device)
    vp: ViewPolicy = default_views("aes")
    cache = PerceptualCache(cache_dir or _default_cache_dir(), dc, vp, batch_size, workers, output="features")
    problems = list(split.problems)
    parts: dict[str, tuple[AvaPart, ViewEmbeddings]] = {}
    for name in ("train", "val", "test"):
        part = getattr(split, name)
        say(f"backbone features of the {name} images ({len(part.paths)}; cached in {cache.dir})")
        ok, ve, errors = cached_features(cache, part.paths, say)
        problems += sorted(errors.items())
        if len(ok) < 2:
            raise ValueError(f"{_HERE}: only {len(ok)} readable {name} image(s) of {len(part.paths)} "
                             f"(first problems: {sorted(errors.items())[:3]})")
        parts[name] = (part.subset(ok), ve)
    (tr, tr_ve), (va, va_ve), (te, te_ve) = parts["train"], parts["val"], parts["test"]
    better, worse = mos_pairs(tr.mos, margin, partners, fit.seed)
    if better.size == 0:
        raise ValueError(f"{_HERE}: no training pair of images whose mean ratings differ by >= {margin}")
    rb, rw = view_pairs(tr_ve.owner, better, worse)
    say(f"{better.size} image pairs ({rb.numel()} view pairs), margin {margin}")
    head, _history = fit_feature_head(torch.from_numpy(tr_ve.emb), rb, rw, torch.from_numpy(va_ve.emb),
                                     validation_ladder(va_ve.owner, va.mos), fit, log)
    model = QualityModel(dc, "aes", head, attr, "features", vp).eval()
    train_scores, test_scores = predict(head, tr_ve), predict(head, te_ve)
    threshold = best_threshold(train_scores, tr.mos > HIGH_ABOVE)
    high = te.mos > HIGH_ABOVE
    s, lin = evaluate(test_scores, te.mos), evaluate(test_scores, te.mos, logistic=False)
    report = AvaReport(
        split=split.how, n_images={"train": len(tr.paths), "val": len(va.paths), "test": len(te.paths)},
        srcc=s.srcc, plcc=s.plcc, plcc_linear=lin.plcc, krcc=s.krcc, logistic_ok=s.logistic_ok,
        accuracy=float(np.mean((test_scores > threshold) == high)),
        majority_accuracy=float(max(high.mean(), 1.0 - high.mean())), threshold=threshold,
        val_srcc=evaluate(predict(head, va_ve), va.mos).srcc, views=vp.to_dict(), unlisted=split.unlisted,
        pairs=int(rb.numel()), problems=problems)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = save_quality_head(out / "iqa-aes.safetensors", model, extra={
        "trained_on": "ava", "target": "AVA mean rating (1..10), ranking pairs", "ava_split": split.how,
        "n_images": report.n_images, "pair_margin": margin, "partners": partners, "feature_fit": asdict(fit),
        "ava_test": {k: getattr(report, k) for k in ("srcc", "plcc", "plcc_linear", "krcc", "accuracy",
                                                         "majority_accuracy", "threshold")}})
    (out / "ava_report.json").write_text(json.dumps({"checkpoint": str(path), **report.to_json()}, indent=2))
    return AvaResult(path, model, report)
