"""ResMLP projector: the building block of DeCLIP's perceptual and semantic heads."""
from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    """Pre-norm residual MLP block."""

    def __init__(self, dim: int, expansion: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * expansion)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(dim * expansion, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.drop(self.act(self.fc1(self.norm(x)))))


class ResMLP(nn.Module):
    """(B, in_dim) -> (B, out_dim): linear in, `depth` residual blocks, norm, linear out."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 512, depth: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        if min(in_dim, out_dim, hidden) <= 0 or depth < 0:
            raise ValueError(f"bad ResMLP sizes in={in_dim} out={out_dim} hidden={hidden} depth={depth}")
        self.inp = nn.Linear(in_dim, hidden)
        self.blocks = nn.Sequential(*[ResBlock(hidden, dropout=dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(self.blocks(self.inp(x))))
