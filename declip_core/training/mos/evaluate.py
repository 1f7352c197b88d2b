"""The usual IQA evaluation protocols on DeCLIP's perceptual embedding (what training/eval_iqa.py runs).

Protocols: intra-dataset (10 random 80/20 splits, by reference image for synthetic sets such as
KADID-10k; median SRCC / PLCC after the 4-parameter logistic / KRCC), cross-dataset (train on one
set, test on each other) and a given head applied without training ("zero-shot" on that set).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from declip_core.inference import DeCLIP
from declip_core.iqa.model import METRICS, QualityModel, create_quality_model, default_views
from declip_core.training.mos.cache import Embedded, load_and_embed
from declip_core.training.mos.fit import fit_views_head, predict
from declip_core.training.mos.protocol import ProtocolResult, Scores, cross_dataset, evaluate, run_protocol
from declip_core.training.mos.sets import Problem, default_metric
from declip_core.training.mos.train import _resolve_declip, _scores_dict
from declip_core.views import ViewPolicy

_HERE = "declip_core/training/mos/evaluate.py"


def _protocol_dict(r: ProtocolResult, n: int, grouped: bool) -> dict[str, Any]:
    return {"median_srcc": r.median_srcc, "median_plcc": r.median_plcc, "median_krcc": r.median_krcc,
            "n_images": n, "grouped_by_reference": grouped, "per_split": [_scores_dict(s) for s in r.per_split]}


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
