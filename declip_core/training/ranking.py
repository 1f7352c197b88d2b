"""Severity ladders: ranking pairs, the RankIQA-style ranking loss, and the within-group figures
(SRCC and 2AFC) used by head training, validation and benchmarks/bench_iqa.py.

A *ladder* is one source crop under one distortion type at levels 0..5 (level 0 = the clean crop):
within a ladder the lower level is the better image, whatever the photo or the type, so ranking
pairs need no cross-photo calibration (Liu et al., "RankIQA", ICCV 2017, trained a siamese network on
exactly such pairs). Pairs never cross ladders.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from itertools import combinations

import numpy as np
import torch
from scipy.stats import spearmanr


def ladder_pairs(groups: Sequence[Hashable], levels: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """All (better, worse) index pairs inside each group: same group, lower level = better.

    groups: (N,) ladder ids; levels: (N,) severity (0 = clean). Returns two (M,) int64 tensors; equal
    levels give no pair. M = 0 when no group holds two levels.
    """
    if len(groups) != len(levels):
        raise ValueError(f"got {len(groups)} groups but {len(levels)} levels")
    by: dict[Hashable, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by[g].append(i)
    better: list[int] = []
    worse: list[int] = []
    for idx in by.values():
        for i, j in combinations(idx, 2):
            if levels[i] < levels[j]:
                better.append(i), worse.append(j)
            elif levels[j] < levels[i]:
                better.append(j), worse.append(i)
    return torch.tensor(better, dtype=torch.int64), torch.tensor(worse, dtype=torch.int64)


def ranking_loss(scores: torch.Tensor, better: torch.Tensor, worse: torch.Tensor, margin: float = 0.0,
                 temperature: float = 0.05) -> torch.Tensor:
    """Mean logistic ranking loss softplus((s_worse - s_better + margin) / temperature) * temperature.

    scores: (N,) higher = better; better/worse: (M,) indices. Near 0 when every better image outscores
    its worse partner by more than the margin, large when the order is reversed; the scaling by
    `temperature` keeps its gradient (at most 1 per pair) independent of the temperature. With no pairs
    the loss is 0 (and still differentiable, so it can be summed with other terms).
    """
    if better.shape != worse.shape or better.ndim != 1:
        raise ValueError(f"better/worse must be equal (M,) index tensors, got {tuple(better.shape)}, {tuple(worse.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if better.numel() == 0:
        return scores.sum() * 0.0
    d = (scores[worse] - scores[better] + margin) / temperature
    return torch.nn.functional.softplus(d).mean() * temperature


def group_srcc(scores: Sequence[float]) -> float:
    """SRCC of one ladder's scores (ordered by level 0..L) against -level; 0 when the scores are constant
    (no information), never skipped."""
    s = np.asarray(scores, dtype=float)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"non-finite scores {s.tolist()}")
    if len(s) < 2:
        raise ValueError(f"a ladder needs at least 2 levels, got {len(s)}")
    if np.ptp(s) == 0:
        return 0.0
    return float(spearmanr(s, -np.arange(len(s))).statistic)


def group_2afc(scores: Sequence[float]) -> tuple[float, int]:
    """(correct, pairs) over one ladder's level pairs (scores ordered by level): the lower level should
    score higher; a tie counts 0.5."""
    s = np.asarray(scores, dtype=float)
    correct = sum(1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0 for i, j in combinations(range(len(s)), 2))
    return correct, len(s) * (len(s) - 1) // 2


def ladder_figures(scores: Sequence[float], levels: Sequence[int], groups: Sequence[Hashable]
                   ) -> dict[Hashable, tuple[float, float, int]]:
    """Per ladder: (SRCC, 2AFC correct, 2AFC pairs) of the scores ordered by level (higher = better).

    Ladders with fewer than 2 distinct levels are left out. Several images at one level (views, seeds)
    are averaged first.
    """
    by: dict[Hashable, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s, lv, g in zip(scores, levels, groups):
        by[g][int(lv)].append(float(s))
    out = {}
    for g, lv in by.items():
        if len(lv) < 2:
            continue
        ordered = [float(np.mean(lv[k])) for k in sorted(lv)]
        c, n = group_2afc(ordered)
        out[g] = (group_srcc(ordered), c, n)
    return out


def within_group_summary(scores: Sequence[float], levels: Sequence[int], groups: Sequence[Hashable]) -> dict[str, float]:
    """{'srcc': mean SRCC over ladders, '2afc': pooled pair accuracy, 'ladders': count}; NaN when none."""
    f = ladder_figures(scores, levels, groups)
    if not f:
        return {"srcc": math.nan, "2afc": math.nan, "ladders": 0}
    return {"srcc": float(np.mean([v[0] for v in f.values()])),
            "2afc": sum(v[1] for v in f.values()) / sum(v[2] for v in f.values()), "ladders": len(f)}
