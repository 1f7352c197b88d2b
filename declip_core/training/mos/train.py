"""Quality heads trained on human MOS (KonIQ-10k, SPAQ, LIVE Challenge, KADID-10k, AGIQA-3K, AVA)
and the usual IQA evaluation protocols on DeCLIP's perceptual embedding.

* `load_mos_set(spec)`: a dataset through `declip_core.training.data.sources` (``name:/root[;key=value]``),
  MOS normalised to 0..1 (higher better); missing files and records without MOS are reported.
* Views: an image is seen as the quality model sees it at scoring (`declip_core.iqa.views`; tech:
  native-resolution 256-px crops, aes: one resized view), decoded exactly as `score_files` does. Each
  view is a training row carrying its image's MOS; an image's prediction is the mean over its views
  (`QualityModel.score_views`). The policy is saved with the head.
* `PerceptualCache`: per-view perceptual embeddings computed once, stored as .npy shards keyed by
  the DeCLIP fingerprint (checkpoint sha256 + backbone key + view policy) and each image's resolved
  path, mtime and size. Unreadable images are reported and never cached.
* `fit_mos_head`: a RegressionHead fitted on standardised embeddings (the standardisation folded
  into its first layer), on one intra-op thread (small full-batch fits are much faster so).
* `train_mos` / `evaluate_mos`: what training/train_iqa.py and training/eval_iqa.py run; both take
  a DeCLIP instance (tests use `declip_core.training.testing.tiny_declip()`) or a tag/path.

Protocols: intra-dataset (10 random 80/20 splits, by reference image for synthetic sets such as
KADID-10k; median SRCC / PLCC after the 4-parameter logistic / KRCC), cross-dataset (train on one
set, test on each other) and a given head applied without training ("zero-shot" on that set).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from declip_core.backbones.base import PreprocessConfig
from declip_core.training.data.sources import check_images, read_sources_spec
from declip_core.training.mos.protocol import ProtocolResult, Scores, cross_dataset, evaluate, run_protocol
from declip_core.inference import DeCLIP, load_declip
from declip_core.io import DEFAULT_MAX_PIXELS, ImageLoadError
from declip_core.iqa.batch import _decode as decode_views  # the exact decoding of score_files
from declip_core.iqa.heads import RegressionHead
from declip_core.iqa.model import (
    METRICS,
    QualityModel,
    create_quality_model,
    default_views,
    save_quality_head,
    zero_shot_head,
)
from declip_core.iqa.views import ViewPolicy
from declip_core.training.feature_cache import backbone_key
from declip_core.training.quality_heads import fit_regression_head

_HERE = "declip_core/training/mos/train.py"
CACHE_VERSION = 1
Problem = tuple[str, str]  # (path, reason)


@dataclass(frozen=True)
class MosSet:
    """One dataset's labelled images: targets are MOS in 0..1, higher better.

    groups: the reference image of each item for synthetic sets (splits keep a reference's
    distorted versions on one side), else None.
    """

    name: str
    paths: tuple[str, ...]
    targets: np.ndarray
    groups: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.targets):
            raise ValueError(f"{_HERE}: {self.name}: {len(self.paths)} paths but {len(self.targets)} targets")
        if self.groups is not None and len(self.groups) != len(self.paths):
            raise ValueError(f"{_HERE}: {self.name}: {len(self.groups)} groups for {len(self.paths)} paths")

    def subset(self, idx: Sequence[int] | np.ndarray) -> MosSet:
        """The items at idx, in that order."""
        ix = np.asarray(idx, dtype=np.int64)
        return MosSet(self.name, tuple(self.paths[i] for i in ix), self.targets[ix],
                      None if self.groups is None else tuple(self.groups[i] for i in ix))


def default_metric(spec: str) -> str:
    """'aes' for AVA (aesthetic MOS), 'tech' for every technical-quality set."""
    return "aes" if spec.partition(":")[0].strip().lower() == "ava" else "tech"


def load_mos_set(spec: str, split: str | None = None, name: str | None = None) -> tuple[MosSet, list[Problem]]:
    """Read a dataset spec; (set of present, labelled images, [(path, reason)] for the rest).

    split: keep only records of that official split (KonIQ-10k, AVA: 'train' / 'val' / 'test').
    """
    records = read_sources_spec(spec)
    label = name or spec.partition(":")[0].strip()
    if split is not None:
        if not any(r.split is not None for r in records):
            raise ValueError(f"{_HERE}: {spec!r} has no official split, so split={split!r} cannot be used")
        records = [r for r in records if r.split == split]
    present, missing = check_images(records)
    problems: list[Problem] = [(str(p), why) for p, why in missing]
    paths, targets, groups = [], [], []
    for r in present:
        m = r.normalized_mos()
        if m is None:
            problems.append((str(r.image_path), "no MOS (or no MOS scale) in the label file"))
            continue
        paths.append(str(r.image_path))
        targets.append(m)
        groups.append(None if r.ref_image_path is None else str(r.ref_image_path))
    if len(paths) < 2:
        raise ValueError(f"{_HERE}: {spec!r} gives {len(paths)} usable labelled image(s) "
                         f"({len(problems)} problem(s), first: {problems[:3]}); need at least 2")
    grouped = all(g is not None for g in groups)
    return MosSet(label, tuple(paths), np.asarray(targets, dtype=np.float64),
                  tuple(groups) if grouped else None), problems  # type: ignore[arg-type]


def declip_fingerprint(declip: DeCLIP, views: ViewPolicy | None = None) -> str:
    """What perceptual embeddings depend on: the checkpoint sha256 (or, for an unsaved model,
    the disentangler weights), the backbone key and the view policy."""
    vp = json.dumps(views.to_dict(), sort_keys=True) if views is not None else "none"
    h = hashlib.sha256(f"v{CACHE_VERSION}|{backbone_key(declip.backbone)}|{vp}".encode())
    if declip.checkpoint_sha256:
        h.update(declip.checkpoint_sha256.encode())
    else:
        for k, v in sorted(declip.disentangler.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _file_key(path: str) -> str:
    st = os.stat(path)
    ident = f"{Path(path).resolve()}|{st.st_mtime_ns}|{st.st_size}"
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


class _ViewFiles(torch.utils.data.Dataset):
    """path i -> (i, (K, 3, S, S) views in 0..1 or None, error text)."""

    def __init__(self, paths: Sequence[str], cfg: PreprocessConfig, views: ViewPolicy) -> None:
        self.paths, self.cfg, self.views = list(paths), cfg, views

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str]:
        try:  # the decoding of score_files, so training sees exactly what scoring sees
            return i, decode_views(self.paths[i], self.cfg, DEFAULT_MAX_PIXELS, self.views), ""
        except ImageLoadError as e:
            return i, None, e.reason
        except (OSError, ValueError, RuntimeError) as e:
            return i, None, f"could not decode ({type(e).__name__}: {e})"


def embed_views(paths: Sequence[str], declip: DeCLIP, views: ViewPolicy, batch_size: int = 32, workers: int = 1
                ) -> tuple[list[int], list[np.ndarray], dict[str, str]]:
    """(ok indices, per ok image its (K, P) view embeddings, errors path -> reason); decoding in
    `workers` DataLoader processes, unreadable files reported."""
    if batch_size < 1 or workers < 0:
        raise ValueError(f"{_HERE}: need batch_size >= 1 and workers >= 0, got {batch_size} and {workers}")
    cfg = declip.backbone.info.preprocess
    if cfg is None:
        raise ValueError(f"{_HERE}: backbone {declip.backbone.info.spec!r} has no preprocessing config")
    dl = torch.utils.data.DataLoader(_ViewFiles(paths, cfg, views), batch_size=batch_size, shuffle=False,
                                     num_workers=workers, collate_fn=list)
    dev = next(declip.disentangler.parameters()).device
    ok: list[int] = []
    out: list[np.ndarray] = []
    errors: dict[str, str] = {}
    with torch.inference_mode():
        for items in dl:
            good = [(i, x) for i, x, _ in items if x is not None]
            errors.update({paths[i]: err for i, x, err in items if x is None})
            if not good:
                continue
            emb = declip.embed_images(torch.cat([x for _, x in good]).to(dev)).perceptual.float().cpu().numpy()
            for (i, _), part in zip(good, np.split(emb, np.cumsum([len(x) for _, x in good])[:-1])):
                ok.append(i)
                out.append(part)
    return ok, out, errors


@dataclass
class ViewEmbeddings:
    """Per-view perceptual embeddings of M images: emb (V, P), owner (V,) = image index 0..M-1."""

    emb: np.ndarray
    owner: np.ndarray

    def __post_init__(self) -> None:
        if self.emb.ndim != 2 or self.owner.shape != (self.emb.shape[0],):
            raise ValueError(f"{_HERE}: emb (V, P) and owner (V,) do not match: "
                             f"{self.emb.shape} and {self.owner.shape}")

    @property
    def n_images(self) -> int:
        return int(self.owner.max()) + 1 if self.owner.size else 0

    def subset(self, idx: Sequence[int] | np.ndarray) -> ViewEmbeddings:
        """Views of images idx (renumbered 0..len(idx)-1 in that order)."""
        ix = np.asarray(idx, dtype=np.int64)
        rows = [np.flatnonzero(self.owner == i) for i in ix]
        sel = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        owner = np.concatenate([np.full(len(r), k) for k, r in enumerate(rows)]) if rows else sel
        return ViewEmbeddings(self.emb[sel], owner.astype(np.int64))

    def image_mean(self, per_view: np.ndarray) -> np.ndarray:
        """(V,) values -> (M,) mean over each image's views."""
        n = self.n_images
        return np.bincount(self.owner, weights=per_view, minlength=n) / np.bincount(self.owner, minlength=n)


class PerceptualCache:
    """get(paths) -> (ok indices, ViewEmbeddings of those images, errors path -> reason).

    Layout: <root>/perceptual-<fingerprint>/index.json (file key -> [shard, first row, n views]) and
    shard .npy files. A changed file (mtime or size), another DeCLIP or another view policy gives
    another key, so stale embeddings are never read.
    """

    def __init__(self, root: str | Path, declip: DeCLIP, views: ViewPolicy, batch_size: int = 32,
                 workers: int = 1) -> None:
        self.declip, self.views = declip, views
        self.dir = Path(root) / f"perceptual-{declip_fingerprint(declip, views)}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.batch_size, self.workers = batch_size, workers

    def _index(self) -> dict[str, list[Any]]:
        f = self.dir / "index.json"
        if not f.is_file():
            return {}
        try:
            return json.loads(f.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{_HERE}: cache index {f} is corrupt ({e}); delete {self.dir} to rebuild it") from e

    def _store(self, keys: list[str], parts: list[np.ndarray]) -> None:
        shard = f"shard-{uuid.uuid4().hex[:12]}.npy"
        tmp = self.dir / (shard + ".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, np.concatenate(parts).astype(np.float32))
        os.replace(tmp, self.dir / shard)
        idx = self._index()  # re-read: another process may have added entries meanwhile
        start = 0
        for k, part in zip(keys, parts):
            idx[k] = [shard, start, len(part)]
            start += len(part)
        tmp_idx = self.dir / f"index.json.{uuid.uuid4().hex[:8]}.tmp"
        tmp_idx.write_text(json.dumps(idx))
        os.replace(tmp_idx, self.dir / "index.json")

    def get(self, paths: Sequence[str | Path]) -> tuple[np.ndarray, ViewEmbeddings, dict[str, str]]:
        """View embeddings of the readable paths (computing and storing the missing ones)."""
        names = [str(p) for p in paths]
        errors: dict[str, str] = {}
        keys: list[str | None] = []
        for p in names:
            try:
                keys.append(_file_key(p))
            except OSError as e:
                keys.append(None)
                errors[p] = f"cannot stat file ({e.strerror or e})"
        idx = self._index()
        todo = sorted({i for i, k in enumerate(keys) if k is not None and k not in idx})
        if todo:
            ok, parts, errs = embed_views([names[i] for i in todo], self.declip, self.views, self.batch_size,
                                          self.workers)
            errors.update(errs)
            if ok:
                self._store([keys[todo[j]] for j in ok], parts)  # type: ignore[misc]
                idx = self._index()
        keep = [i for i, k in enumerate(keys) if k is not None and k in idx]
        shards = {s: np.load(self.dir / s, mmap_mode="r") for s in {idx[keys[i]][0] for i in keep}}  # type: ignore[index]
        rows, owner = [], []
        for r, i in enumerate(keep):
            s, start, n = idx[keys[i]]  # type: ignore[index]
            rows.append(np.asarray(shards[s][start:start + n]))
            owner += [r] * n
        emb = np.concatenate(rows) if rows else np.zeros((0, self.declip.perceptual_dim), np.float32)
        return np.asarray(keep, dtype=np.int64), ViewEmbeddings(emb.astype(np.float32),
                                                                np.asarray(owner, dtype=np.int64)), errors


@dataclass
class Embedded:
    """A dataset, the view embeddings of its readable images and every problem met."""

    set: MosSet
    views: ViewEmbeddings  # images numbered as in set.paths
    problems: list[Problem] = field(default_factory=list)


def _resolve_declip(declip: DeCLIP | str | Path | None, device: str) -> DeCLIP:
    if isinstance(declip, DeCLIP):
        return declip
    return load_declip(declip or "lite", device=device)


def _default_cache_dir() -> Path:
    from declip_core.pretrained import cache_dir

    return cache_dir() / "perceptual"


def load_and_embed(specs: Sequence[str], declip: DeCLIP, views: ViewPolicy, cache_dir: str | Path | None = None,
                   split: str | None = None, batch_size: int = 32, workers: int = 1) -> dict[str, Embedded]:
    """name -> Embedded for each spec (a repeated dataset name gets '#2', '#3', ...)."""
    if not specs:
        raise ValueError(f"{_HERE}: give at least one dataset spec ('name:/path/to/root')")
    cache = PerceptualCache(cache_dir or _default_cache_dir(), declip, views, batch_size, workers)
    out: dict[str, Embedded] = {}
    for spec in specs:
        base = spec.partition(":")[0].strip()
        name, n = base, 1
        while name in out:
            n += 1
            name = f"{base}#{n}"
        mos_set, problems = load_mos_set(spec, split=split, name=name)
        ok, emb, errors = cache.get(mos_set.paths)
        problems += sorted(errors.items())
        if len(ok) < 2:
            raise ValueError(f"{_HERE}: {spec!r}: only {len(ok)} readable image(s) of {len(mos_set.paths)} "
                             f"(first problems: {problems[:3]})")
        out[name] = Embedded(mos_set.subset(ok), emb, problems)
    return out


@contextmanager
def _one_thread() -> Iterator[None]:
    """Small full-batch fits run far faster on one intra-op thread, above all on a loaded machine
    (measured 40x on a 2-core box under load: spinning OpenMP threads)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def fit_mos_head(emb: np.ndarray, targets: np.ndarray, epochs: int = 400, seed: int = 0) -> RegressionHead:
    """A RegressionHead fitted on standardised embeddings, the standardisation folded into its first
    layer, so it takes raw perceptual embeddings like every other head."""
    x = torch.from_numpy(np.asarray(emb, dtype=np.float32))
    y = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    if x.ndim != 2 or y.shape != (x.shape[0],) or not bool(torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError(f"{_HERE}: need finite emb (N, P) and targets (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
    mu, sd = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6)
    with _one_thread():
        head = fit_regression_head((x - mu) / sd, y, epochs=epochs, seed=seed)
    first = head.net[0]
    with torch.no_grad():  # W((x - mu) / sd) + b == (W / sd) x + (b - (W / sd) mu)
        first.weight.div_(sd)
        first.bias.sub_(first.weight @ mu)
    return head.eval()


def fit_views_head(ve: ViewEmbeddings, targets: np.ndarray, epochs: int = 400, seed: int = 0) -> RegressionHead:
    """Each view of an image is a training row with the image's MOS (as the model averages the
    per-view scores at inference)."""
    t = np.asarray(targets, dtype=np.float64)
    if t.shape != (ve.n_images,):
        raise ValueError(f"{_HERE}: {t.shape[0] if t.ndim else 0} targets for {ve.n_images} images")
    return fit_mos_head(ve.emb, t[ve.owner], epochs, seed)


@torch.no_grad()
def predict(head: torch.nn.Module, ve: ViewEmbeddings) -> np.ndarray:
    """(M,) image scores: the head on every view embedding, averaged per image (QualityModel.score_views)."""
    dev = next(itertools.chain(head.parameters(), head.buffers())).device
    per_view = head(torch.from_numpy(ve.emb).to(dev)).float().cpu().numpy().astype(np.float64)
    if per_view.size != ve.emb.shape[0]:
        raise ValueError(f"{_HERE}: head gave output of shape {per_view.shape} for {ve.emb.shape[0]} views; "
                         "expected one score per view")
    return ve.image_mean(per_view.reshape(-1))


@dataclass
class TrainResult:
    path: Path
    model: QualityModel
    n_images: dict[str, int]
    train_scores: Scores  # on the training images themselves (a sanity check, not an evaluation)
    problems: dict[str, list[Problem]]


def train_mos(specs: Sequence[str], out_dir: str | Path, declip: DeCLIP | str | Path | None = None,
              metric: str | None = None, cache_dir: str | Path | None = None, split: str | None = None,
              epochs: int = 400, seed: int = 0, batch_size: int = 32, workers: int = 1, device: str = "cpu",
              views: ViewPolicy | None = None) -> TrainResult:
    """Fit a regression head on all given datasets pooled; save <out_dir>/iqa-<metric>.safetensors
    (usable as create_quality_model(checkpoint=out_dir, declip=...)) and train_report.json.

    views: how images are seen, in training and (saved with the head) at scoring; default the
    metric's policy (tech: native-resolution crops, aes: one resized view)."""
    dc = _resolve_declip(declip, device)
    metric = metric or default_metric(specs[0] if specs else "")
    if metric not in METRICS:
        raise ValueError(f"{_HERE}: metric must be one of {METRICS}, got {metric!r}")
    vp = views or default_views(metric)
    data = load_and_embed(specs, dc, vp, cache_dir, split, batch_size, workers)
    ve = _pool([d.views for d in data.values()])
    y = np.concatenate([d.set.targets for d in data.values()])
    head = fit_views_head(ve, y, epochs, seed)
    model = QualityModel(dc, metric, head, zero_shot_head(dc, "tech"), "regression", vp).eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_images = {k: len(d.set.paths) for k, d in data.items()}
    problems = {k: d.problems for k, d in data.items()}
    scores = evaluate(predict(head, ve), y)
    path = save_quality_head(out / f"iqa-{metric}.safetensors", model,
                             extra={"trained_on": list(specs), "n_images": n_images, "split": split,
                                    "epochs": epochs, "seed": seed, "target": "normalized MOS (0..1)"})
    (out / "train_report.json").write_text(json.dumps({
        "checkpoint": str(path), "metric": metric, "views": vp.to_dict(), "datasets": list(specs),
        "n_images": n_images, "n_views": int(ve.emb.shape[0]), "train_fit": _scores_dict(scores),
        "unreadable_or_missing": problems}, indent=2))
    return TrainResult(path, model, n_images, scores, problems)


def _scores_dict(s: Scores) -> dict[str, Any]:
    return {"srcc": s.srcc, "plcc": s.plcc, "krcc": s.krcc, "logistic_ok": s.logistic_ok}


def _protocol_dict(r: ProtocolResult, n: int, grouped: bool) -> dict[str, Any]:
    return {"median_srcc": r.median_srcc, "median_plcc": r.median_plcc, "median_krcc": r.median_krcc,
            "n_images": n, "grouped_by_reference": grouped, "per_split": [_scores_dict(s) for s in r.per_split]}


def _pool(parts: Sequence[ViewEmbeddings]) -> ViewEmbeddings:
    """Several sets' view embeddings as one (images renumbered consecutively)."""
    offs = np.cumsum([0] + [p.n_images for p in parts])
    return ViewEmbeddings(np.concatenate([p.emb for p in parts]),
                          np.concatenate([p.owner + o for p, o in zip(parts, offs)]))


def intra_dataset(d: Embedded, n_splits: int = 10, seed: int = 0, epochs: int = 400) -> ProtocolResult:
    """n_splits random 80/20 splits (by reference image when the set has references)."""
    def train_and_predict(tr: np.ndarray, te: np.ndarray) -> np.ndarray:
        head = fit_views_head(d.views.subset(tr), d.set.targets[tr], epochs, seed)
        return predict(head, d.views.subset(te))

    return run_protocol(train_and_predict, d.set.targets, n_splits=n_splits, seed=seed, groups=d.set.groups)


def cross_datasets(data: dict[str, Embedded], epochs: int = 400, seed: int = 0) -> dict[tuple[str, str], Scores]:
    """Train on each set (all of it), test on each of the others."""
    def train_and_predict(train: str, tests: Sequence[str]) -> dict[str, np.ndarray]:
        head = fit_views_head(data[train].views, data[train].set.targets, epochs, seed)
        return {t: predict(head, data[t].views) for t in tests}

    return cross_dataset(train_and_predict, {k: d.set.targets for k, d in data.items()})


def head_model(head: str, declip: DeCLIP, metric: str, device: str = "cpu") -> QualityModel:
    """'zeroshot' (antonym prompts), 'default' (the shipped lite-<metric> head) or a checkpoint path/tag."""
    if head == "zeroshot":
        return create_quality_model(metric, head="zeroshot", declip=declip, device=device)
    return create_quality_model(metric, checkpoint=None if head == "default" else head, declip=declip, device=device)


@dataclass
class EvalReport:
    metric: str
    n_images: dict[str, int]
    intra: dict[str, dict[str, Any]] = field(default_factory=dict)
    cross: dict[str, dict[str, Any]] = field(default_factory=dict)  # "train->test" -> scores
    heads: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # head -> dataset -> scores
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    views: dict[str, Any] = field(default_factory=dict)  # policy of the heads fitted by the protocols
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "views": self.views, "n_images": self.n_images, "intra": self.intra,
                "cross": self.cross,
                "heads": self.heads, "notes": self.notes, "unreadable_or_missing": self.problems}

    def markdown(self) -> str:
        """The figures as markdown tables."""
        f = lambda v: "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"
        lines: list[str] = [f"metric: {self.metric}; views: {self.views.get('policy')}; images used: "
                            + ", ".join(f"{k} {n}" for k, n in self.n_images.items())]
        if self.intra:
            lines += ["", "| intra-dataset (median of splits) | SRCC | PLCC | KRCC | splits | by reference |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {k} | {f(r['median_srcc'])} | {f(r['median_plcc'])} | {f(r['median_krcc'])} | "
                      f"{len(r['per_split'])} | {'yes' if r['grouped_by_reference'] else 'no'} |"
                      for k, r in self.intra.items()]
        if self.cross:
            lines += ["", "| cross-dataset (train -> test) | SRCC | PLCC | KRCC |", "|---|---|---|---|"]
            lines += [f"| {k} | {f(r['srcc'])} | {f(r['plcc'])} | {f(r['krcc'])} |" for k, r in self.cross.items()]
        for head, per in self.heads.items():
            lines += ["", f"| head {head} (no training on the set) | SRCC | PLCC | KRCC |", "|---|---|---|---|"]
            lines += [f"| {k} | {f(r['srcc'])} | {f(r['plcc'])} | {f(r['krcc'])} |" for k, r in per.items()]
        n_bad = sum(len(v) for v in self.problems.values())
        lines += [""] + [f"note: {n}" for n in self.notes] + [f"unreadable or missing images (skipped): {n_bad}"]
        return "\n".join(lines)


def evaluate_mos(specs: Sequence[str], declip: DeCLIP | str | Path | None = None, metric: str | None = None,
                 protocols: Sequence[str] = ("intra", "cross"), heads: Sequence[str] = (),
                 cache_dir: str | Path | None = None, n_splits: int = 10, seed: int = 0, epochs: int = 400,
                 batch_size: int = 32, workers: int = 1, device: str = "cpu", views: ViewPolicy | None = None
                 ) -> EvalReport:
    """Run the protocols ('intra', 'cross') with heads fitted on `views` (default: the metric's
    policy) and apply each given head, with its own view policy, to every set."""
    unknown = sorted(set(protocols) - {"intra", "cross"})
    if unknown:
        raise ValueError(f"{_HERE}: unknown protocol(s) {unknown}; expected 'intra' and/or 'cross'")
    if not protocols and not heads:
        raise ValueError(f"{_HERE}: nothing to evaluate: give a protocol or a head")
    dc = _resolve_declip(declip, device)
    metric = metric or default_metric(specs[0] if specs else "")
    if metric not in METRICS:
        raise ValueError(f"{_HERE}: metric must be one of {METRICS}, got {metric!r}")
    models = {h: head_model(h, dc, metric, device) for h in heads}
    by_views: dict[ViewPolicy, dict[str, Embedded]] = {}

    def embedded(vp: ViewPolicy) -> dict[str, Embedded]:
        if vp not in by_views:
            by_views[vp] = load_and_embed(specs, dc, vp, cache_dir, None, batch_size, workers)
        return by_views[vp]

    vp = views or default_views(metric)
    data = embedded(vp if protocols else next(iter(models.values())).views)
    rep = EvalReport(metric, {k: len(d.set.paths) for k, d in data.items()},
                     problems={k: d.problems for k, d in data.items()}, views=vp.to_dict())
    if "intra" in protocols:
        for k, d in data.items():
            rep.intra[k] = _protocol_dict(intra_dataset(d, n_splits, seed, epochs), len(d.set.paths),
                                          d.set.groups is not None)
    if "cross" in protocols and len(data) >= 2:
        rep.cross = {f"{a}->{b}": _scores_dict(s) for (a, b), s in cross_datasets(data, epochs, seed).items()}
    elif "cross" in protocols:
        rep.notes.append("cross-dataset protocol skipped: it needs at least two datasets")
    for h, model in models.items():
        hd = embedded(model.views)
        rep.heads[h] = {k: {**_scores_dict(evaluate(predict(model.head, d.views), d.set.targets)),
                            "n_images": len(d.set.paths), "views": model.views.to_dict()} for k, d in hd.items()}
    return rep
