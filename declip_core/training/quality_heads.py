"""Training the quality heads on I&2T-derived targets and choosing each metric's default head.

tech target: `quality` (1 for a clean crop, times (1 - 0.18 level) per applied distortion).
aes target: `aesthetic` (0.75 clean, 0.75 sqrt(quality) distorted, 0.35 weak aesthetic negatives):
a demo-grade stand-in for human aesthetic scores, which cannot be had offline.
The default head of each metric is the one with the better score on validation photos (training
photos held out from head training), never on the held-out evaluation photos.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from declip_core.training.data.manifest import Row
from declip_core.inference import DeCLIP
from declip_core.iqa.heads import RegressionHead, ZeroShotHead
from declip_core.iqa.model import QualityModel, zero_shot_head
from declip_core.training.runtime import isolated_rng


@isolated_rng
def fit_regression_head(emb: torch.Tensor, target: torch.Tensor, epochs: int = 400, lr: float = 3e-3,
                        weight_decay: float = 1e-4, seed: int = 0) -> RegressionHead:
    """Full-batch AdamW on MSE. emb (N, P), target (N,) in 0..1."""
    if emb.shape[0] != target.shape[0] or emb.shape[0] < 2:
        raise ValueError(f"need matching non-trivial emb/target, got {tuple(emb.shape)} and {tuple(target.shape)}")
    torch.manual_seed(seed)
    head = RegressionHead(emb.shape[1])
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(head(emb), target)
        loss.backward()
        opt.step()
    return head.eval()


def within_group_srcc(scores: Sequence[float], levels: Sequence[int], groups: Sequence[str]) -> float:
    """Mean over groups of SRCC(score, -level): 1 when the score falls as severity rises."""
    by: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for s, lv, g in zip(scores, levels, groups):
        by[g].append((float(s), int(lv)))
    vals = []
    for items in by.values():
        if len({lv for _, lv in items}) < 3:
            continue
        r = spearmanr([s for s, _ in items], [-lv for _, lv in items]).statistic
        if not math.isnan(r):
            vals.append(r)
    return float(np.mean(vals)) if vals else float("nan")


def pairwise_accuracy(scores: dict[str, float], pairs: Sequence[tuple[str, str]]) -> float:
    """Fraction of (better, worse) pairs ordered correctly (2AFC)."""
    ok = [scores[a] > scores[b] for a, b in pairs if a in scores and b in scores]
    return float(np.mean(ok)) if ok else float("nan")


def single_distortion_view(rows: Sequence[Row]) -> tuple[list[int], list[int], list[str]]:
    """Indices, levels and (photo, type) groups of single-distortion rows plus clean rows as level 0
    of every type of their photo."""
    idx, lv, grp = [], [], []
    types_by_photo: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if len(r.chain) == 1:
            types_by_photo[r["photo_id"]].add(r.chain[0][0])
    for i, r in enumerate(rows):
        if len(r.chain) == 1:
            idx.append(i), lv.append(r.chain[0][1]), grp.append(f"{r['photo_id']}|{r.chain[0][0]}")
        elif r["perc_key"] == "clean":
            for t in types_by_photo[r["photo_id"]]:
                idx.append(i), lv.append(0), grp.append(f"{r['photo_id']}|{t}")
    return idx, lv, grp


def aesthetic_pairs(rows: Sequence[Row]) -> list[tuple[int, int]]:
    """(clean, weak negative) index pairs of the same photo."""
    clean = defaultdict(list)
    for i, r in enumerate(rows):
        if r["perc_key"] == "clean":
            clean[r["photo_id"]].append(i)
    return [(c, i) for i, r in enumerate(rows) if r["text_origin"] == "aesthetic_negative"
            for c in clean[r["photo_id"]]]


@dataclass
class HeadChoice:
    metric: str
    model: QualityModel
    validation: dict[str, float]  # head type -> validation score
    chosen: str


def _validate(metric: str, scores: np.ndarray, rows: Sequence[Row]) -> float:
    if metric == "tech":
        idx, lv, grp = single_distortion_view(rows)
        return within_group_srcc(scores[idx], lv, grp)
    pairs = aesthetic_pairs(rows)
    return float(np.mean([scores[a] > scores[b] for a, b in pairs])) if pairs else float("nan")


def train_heads(declip: DeCLIP, rows: Sequence[Row], perceptual: torch.Tensor, val_photos: set[str],
                seed: int = 0) -> dict[str, HeadChoice]:
    """Fit the regression heads on non-validation rows; choose zero-shot vs regression per metric."""
    fit = [i for i, r in enumerate(rows) if r["photo_id"] not in val_photos]
    val = [i for i, r in enumerate(rows) if r["photo_id"] in val_photos]
    if not fit or not val:
        raise ValueError(f"validation photos {sorted(val_photos)} leave no fit or no validation rows")
    val_rows = [rows[i] for i in val]
    attr = zero_shot_head(declip, "tech")
    out: dict[str, HeadChoice] = {}
    for metric, col in (("tech", "quality"), ("aes", "aesthetic")):
        sel = [i for i in fit if not math.isnan(rows[i][col])]
        y = torch.tensor([rows[i][col] for i in sel], dtype=torch.float32)
        reg = fit_regression_head(perceptual[sel], y, seed=seed)
        zs: ZeroShotHead = zero_shot_head(declip, metric)
        scores = {}
        with torch.no_grad():
            scores["regression"] = _validate(metric, reg(perceptual[val]).numpy(), val_rows)
            scores["zeroshot"] = _validate(metric, zs(perceptual[val]).numpy(), val_rows)
        chosen = max(scores, key=lambda k: -1.0 if math.isnan(scores[k]) else scores[k])
        head = reg if chosen == "regression" else zs
        out[metric] = HeadChoice(metric, QualityModel(declip, metric, head, attr, chosen).eval(), scores, chosen)
    return out
