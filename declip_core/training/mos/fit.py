"""Fitting MOS regression heads on view embeddings: `fit_mos_head` fits a RegressionHead on standardised
embeddings (the standardisation folded into its first layer); `predict` averages per-view scores per image."""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

from declip_core.iqa.heads import RegressionHead
from declip_core.training.mos.embed import ViewEmbeddings
from declip_core.training.quality_heads import fit_regression_head
from declip_core.training.runtime import torch_threads

_HERE = "declip_core/training/mos/fit.py"


def fit_mos_head(emb: np.ndarray, targets: np.ndarray, epochs: int = 400, seed: int = 0,
                 threads: int | None = 1) -> RegressionHead:
    """A RegressionHead fitted on standardised embeddings, the standardisation folded into its first
    layer, so it takes raw perceptual embeddings like every other head.

    threads: intra-op threads for the fit, restored afterwards (None: leave torch's setting). Small
    full-batch fits run far faster on one thread, above all on a loaded machine (measured 40x on a
    2-core box under load: spinning OpenMP threads)."""
    x = torch.from_numpy(np.asarray(emb, dtype=np.float32))
    y = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    if x.ndim != 2 or y.shape != (x.shape[0],) or not bool(torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError(f"{_HERE}: need finite emb (N, P) and targets (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
    mu, sd = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6)
    with torch_threads(threads):
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


def _pool(parts: Sequence[ViewEmbeddings]) -> ViewEmbeddings:
    """Several sets' view embeddings as one (images renumbered consecutively)."""
    offs = np.cumsum([0] + [p.n_images for p in parts])
    return ViewEmbeddings(np.concatenate([p.emb for p in parts]),
                          np.concatenate([p.owner + o for p, o in zip(parts, offs)]))
