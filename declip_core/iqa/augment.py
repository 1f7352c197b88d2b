"""Expectation over transformation (EOT) for using a quality score as a loss.

A score's gradient with respect to the pixels has a strong pixel-grid (high-frequency) part: one
signed-gradient step of 0.5/255 raises it far more than any visible change would (gaming; see
docs/pyiqa.md for the measured figures). Averaging the score over random views -- a random crop of
80..100 % of each side, resized back to the input size (a sub-pixel rescale), and a random horizontal
flip -- makes the loss follow what survives such changes (Athalye et al. 2018, "Synthesizing Robust
Adversarial Examples", expectation over transformation). Only for losses: scores stay deterministic.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

MIN_FRACTION = 0.8  # smallest crop side, as a fraction of the image side


def random_view(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, H, W): a random crop (MIN_FRACTION..1 of each side) resized back to H x W
    (bilinear, antialiased), flipped left-right with probability 1/2; differentiable."""
    h, w = x.shape[-2:]
    f = MIN_FRACTION + (1.0 - MIN_FRACTION) * float(torch.rand((), generator=gen))
    ch, cw = max(1, round(h * f)), max(1, round(w * f))
    top = int(torch.randint(0, h - ch + 1, (), generator=gen))
    left = int(torch.randint(0, w - cw + 1, (), generator=gen))
    y = x[:, :, top : top + ch, left : left + cw]
    if (ch, cw) != (h, w):
        y = F.interpolate(y, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    if bool(torch.rand((), generator=gen) < 0.5):
        y = y.flip(-1)
    return y


def expectation_over_views(score: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, n: int,
                           gen: torch.Generator) -> torch.Tensor:
    """(B,) mean of score(random_view(x)) over n random views; gen (a CPU torch.Generator) draws them."""
    if n < 1:
        raise ValueError(f"n must be >= 1 random views, got {n}")
    return torch.stack([score(random_view(x, gen)) for _ in range(n)]).mean(0)
