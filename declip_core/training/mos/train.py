"""Quality heads trained on human MOS (KonIQ-10k, SPAQ, LIVE Challenge, KADID-10k, AGIQA-3K, AVA)
and the usual IQA evaluation protocols on DeCLIP's perceptual embedding.

* `load_mos_set(spec)`: a dataset through `declip_core.training.data.sources` (``name:/root[;key=value]``),
  MOS normalised to 0..1 (higher better); missing files and records without MOS are reported.
* Views: an image is seen as the quality model sees it at scoring (`declip_core.views`; tech:
  native-resolution 256-px crops, aes: one resized view), decoded exactly as `score_files` does. Each
  view is a training row carrying its image's MOS; an image's prediction is the mean over its views
  (`QualityModel.score_views`). The policy is saved with the head.
* `PerceptualCache`: per-view perceptual embeddings computed once, stored as .npy shards keyed by
  the DeCLIP fingerprint (checkpoint sha256 + backbone key + view policy) and each image's resolved
  path, mtime and size. Unreadable images are reported and never cached.
* `fit_mos_head`: a RegressionHead fitted on standardised embeddings (the standardisation folded
  into its first layer), on one intra-op thread (small full-batch fits are much faster so).
* `train_mos` / `evaluate_mos`: what training/train_iqa.py and training/eval_iqa.py run; both take
  a DeCLIP instance (tests use `declip_core.testing.tiny_declip()`) or a tag/path.

Protocols: intra-dataset (10 random 80/20 splits, by reference image for synthetic sets such as
KADID-10k; median SRCC / PLCC after the 4-parameter logistic / KRCC), cross-dataset (train on one
set, test on each other) and a given head applied without training ("zero-shot" on that set).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from declip_core.inference import DeCLIP, load_declip
from declip_core.iqa.model import METRICS, QualityModel, default_views, save_quality_head, zero_shot_head
from declip_core.training.mos.cache import load_and_embed
from declip_core.training.mos.fit import _pool, fit_views_head, predict
from declip_core.training.mos.protocol import Scores, evaluate
from declip_core.training.mos.sets import Problem, default_metric
from declip_core.views import ViewPolicy

_HERE = "declip_core/training/mos/train.py"


def _resolve_declip(declip: DeCLIP | str | Path | None, device: str) -> DeCLIP:
    if isinstance(declip, DeCLIP):
        return declip
    return load_declip(declip or "lite", device=device)


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
