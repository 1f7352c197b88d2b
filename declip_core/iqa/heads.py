"""Quality heads on the perceptual embedding: zero-shot antonym anchors, a regression MLP, and a
supervised per-attribute head (one P(good) per attribute from one small MLP)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ZeroShotHead(nn.Module):
    """Per-attribute P(good) from cosine similarity to (good, bad) anchors; score = mean.

    anchors: (A, 2, P) L2-normalised text embeddings, precomputed into a buffer so scoring
    never runs the text tower.
    """

    def __init__(self, attributes: Sequence[str], anchors: torch.Tensor, logit_scale: float) -> None:
        super().__init__()
        if anchors.ndim != 3 or anchors.shape[1] != 2 or anchors.shape[0] != len(attributes):
            raise ValueError(f"anchors must be ({len(attributes)}, 2, P), got {tuple(anchors.shape)}")
        self.attributes = tuple(attributes)
        self.register_buffer("anchors", F.normalize(anchors.float(), dim=-1))
        self.register_buffer("logit_scale", torch.tensor(float(logit_scale)))

    def attribute_probs(self, perceptual: torch.Tensor) -> torch.Tensor:
        """(B, P) -> (B, A) probability of the good side."""
        sims = torch.einsum("bp,akp->bak", perceptual, self.anchors)  # (B, A, 2)
        return (self.logit_scale * sims).softmax(dim=-1)[..., 0]

    def forward(self, perceptual: torch.Tensor) -> torch.Tensor:
        return self.attribute_probs(perceptual).mean(dim=1)  # (B,)


class RegressionHead(nn.Module):
    """(B, P) perceptual embedding -> (B,) score in 0..1 (MOS-trained or I&2T-target-trained)."""

    def __init__(self, in_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, perceptual: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(perceptual)).squeeze(-1)  # (B,)


class AttributeHead(nn.Module):
    """(B, P) perceptual embedding -> (B, A) P(good) per attribute in 0..1 (supervised).

    Same interface as ZeroShotHead (`attributes`, `attribute_probs`, forward = mean over attributes),
    so a QualityModel takes either as its attribute head. Trained per attribute on the distortion
    family that degrades it (declip_core.training): 1 on clean images and on images whose
    distortions leave the attribute alone, falling with the family's severity.
    """

    def __init__(self, attributes: Sequence[str], in_dim: int, hidden: int = 64) -> None:
        super().__init__()
        if not attributes:
            raise ValueError("AttributeHead needs at least one attribute")
        self.attributes = tuple(attributes)
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, len(self.attributes)))

    def attribute_probs(self, perceptual: torch.Tensor) -> torch.Tensor:
        """(B, P) -> (B, A) probability that each attribute is good."""
        return torch.sigmoid(self.net(perceptual))

    def forward(self, perceptual: torch.Tensor) -> torch.Tensor:
        return self.attribute_probs(perceptual).mean(dim=1)  # (B,)
