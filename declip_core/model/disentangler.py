"""The disentangler: two ResMLP projectors (perceptual, semantic) on a frozen backbone feature,
two text projections, learned temperatures. Works on cached features, so training never runs
the backbone."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from declip_core.model.config import DisentanglerConfig
from declip_core.model.resmlp import ResMLP


@dataclass
class Embeddings:
    """L2-normalised embeddings of images."""

    perceptual: torch.Tensor  # (B, P)
    semantic: torch.Tensor  # (B, S)


def select_features(pooled: torch.Tensor, stats: torch.Tensor, features: str) -> torch.Tensor:
    """The projector input for a feature choice: (B, D_in)."""
    if features == "pooled":
        return pooled
    if features == "stats":
        return stats
    return torch.cat([pooled, stats], dim=1)


class Disentangler(nn.Module):
    """Feature standardisation + projectors + text projections + temperatures."""

    def __init__(self, cfg: DisentanglerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("feat_mean", torch.zeros(cfg.image_in_dim))
        self.register_buffer("feat_std", torch.ones(cfg.image_in_dim))
        self.perceptual = ResMLP(cfg.image_in_dim, cfg.perceptual_dim, cfg.hidden, cfg.depth, cfg.dropout)
        self.semantic = ResMLP(cfg.image_in_dim, cfg.semantic_dim, cfg.hidden, cfg.depth, cfg.dropout)
        self.text_perceptual = ResMLP(cfg.text_in_dim, cfg.perceptual_dim, cfg.text_hidden, cfg.text_depth)
        self.text_semantic = ResMLP(cfg.text_in_dim, cfg.semantic_dim, cfg.text_hidden, cfg.text_depth)
        init = math.log(1.0 / cfg.init_temperature)
        self.logit_scale_p = nn.Parameter(torch.tensor(init))
        self.logit_scale_s = nn.Parameter(torch.tensor(init))

    def set_feature_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardisation statistics from the training features."""
        if mean.shape != self.feat_mean.shape or std.shape != self.feat_std.shape:
            raise ValueError(f"feature stats of shape {tuple(mean.shape)} do not match {tuple(self.feat_mean.shape)}")
        self.feat_mean.copy_(mean)
        self.feat_std.copy_(std.clamp_min(1e-6))

    def _check(self, feats: torch.Tensor) -> None:
        if feats.ndim != 2 or feats.shape[1] != self.cfg.image_in_dim:
            raise ValueError(f"expected features (B, {self.cfg.image_in_dim}), got {tuple(feats.shape)}")

    def embed_features(self, feats: torch.Tensor) -> Embeddings:
        """(B, D_in) backbone features -> normalised perceptual and semantic embeddings."""
        self._check(feats)
        z = (feats - self.feat_mean) / self.feat_std
        return Embeddings(F.normalize(self.perceptual(z), dim=-1), F.normalize(self.semantic(z), dim=-1))

    def embed_text_perceptual(self, text_feats: torch.Tensor) -> torch.Tensor:
        """(T, D_txt) frozen text features -> (T, P) normalised."""
        return F.normalize(self.text_perceptual(text_feats), dim=-1)

    def embed_text_semantic(self, text_feats: torch.Tensor) -> torch.Tensor:
        """(T, D_txt) frozen text features -> (T, S) normalised."""
        return F.normalize(self.text_semantic(text_feats), dim=-1)

    def scale_p(self) -> torch.Tensor:
        return self.logit_scale_p.exp().clamp(max=100.0)

    def scale_s(self) -> torch.Tensor:
        return self.logit_scale_s.exp().clamp(max=100.0)
