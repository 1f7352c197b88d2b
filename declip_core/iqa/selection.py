"""Pick images by quality score: the best k of a batch (best-of-N) and those above a threshold."""
from __future__ import annotations

import torch


def _check(scores: torch.Tensor) -> torch.Tensor:
    if not isinstance(scores, torch.Tensor) or scores.ndim != 1 or scores.numel() == 0:
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"scores must be a non-empty (B,) tensor, got {shape}")
    if not torch.isfinite(scores).all():
        raise ValueError(f"scores must be finite, got {scores.tolist()}")
    return scores


def best_k(scores: torch.Tensor, k: int, lower_better: bool = False) -> torch.Tensor:
    """(B,) scores -> (min(k, B),) int64 indices, best first; ties keep batch order.

    k must be >= 1; a k above B returns all B indices. lower_better flips the order.
    """
    scores = _check(scores)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    key = scores if lower_better else -scores
    order = torch.sort(key, stable=True).indices  # ascending key = best first
    return order[: min(k, scores.shape[0])]


def above_threshold(scores: torch.Tensor, threshold: float, lower_better: bool = False) -> torch.Tensor:
    """(B,) scores -> int64 indices (batch order) of the scores >= threshold (<= when lower_better); may be empty."""
    scores = _check(scores)
    keep = scores <= threshold if lower_better else scores >= threshold
    return torch.nonzero(keep, as_tuple=False).reshape(-1)
