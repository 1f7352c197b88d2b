"""DP-Adapter: a perceptual (and optional semantic) embedding -> N context tokens for a diffusion model."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

# Context width and pooled width of the text conditioning of the model families we target.
MODEL_FAMILIES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "sd15": (768, 0),  # SD1.x: CLIP ViT-L/14 hidden states, no pooled vector in the UNet
        "sdxl": (2048, 1280),  # SDXL: CLIP-L + OpenCLIP-bigG hidden states, bigG pooled vector
    }
)


@dataclass(frozen=True)
class DPAdapterConfig:
    """Shape of a DP-Adapter; stored in every adapter checkpoint.

    perceptual_dim: size of DeCLIP's perceptual embedding (input).
    context_dim: width of the diffusion model's cross-attention context (768 SD1.5, 2048 SDXL).
    num_tokens: how many context tokens the adapter appends.
    semantic_dim: size of DeCLIP's semantic embedding, or 0 when the adapter reads only perception.
    pooled_dim: width of the pooled text vector the adapter adds to (1280 SDXL), 0 for none.
    hidden_dim: width of the projector's hidden layer.
    """

    perceptual_dim: int
    context_dim: int
    num_tokens: int = 4
    semantic_dim: int = 0
    pooled_dim: int = 0
    hidden_dim: int = 1024

    def __post_init__(self) -> None:
        for name in ("perceptual_dim", "context_dim", "num_tokens", "hidden_dim"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"DPAdapterConfig.{name} must be a positive int, got {v!r}")
        for name in ("semantic_dim", "pooled_dim"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"DPAdapterConfig.{name} must be an int >= 0, got {v!r}")

    @property
    def input_dim(self) -> int:
        """Size of the projector's input: perceptual plus semantic (when used)."""
        return self.perceptual_dim + self.semantic_dim

    @classmethod
    def for_family(cls, family: str, perceptual_dim: int, **kwargs: Any) -> DPAdapterConfig:
        """Config with the context and pooled widths of a model family ("sd15" or "sdxl")."""
        if family not in MODEL_FAMILIES:
            raise ValueError(f"unknown model family {family!r}; expected one of {sorted(MODEL_FAMILIES)}")
        context_dim, pooled_dim = MODEL_FAMILIES[family]
        return cls(perceptual_dim=perceptual_dim, context_dim=context_dim, pooled_dim=pooled_dim, **kwargs)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DPAdapterConfig:
        known = {k: int(d[k]) for k in cls.__dataclass_fields__ if k in d}
        missing = {"perceptual_dim", "context_dim"} - known.keys()
        if missing:
            raise ValueError(f"adapter config lacks {sorted(missing)}")
        return cls(**known)


@dataclass
class AdapterOutput:
    """tokens: (B, N, C) context tokens; pooled: (B, pooled_dim) additive pooled vector or None."""

    tokens: torch.Tensor
    pooled: torch.Tensor | None

    def scaled(self, strength: float) -> AdapterOutput:
        """Both outputs multiplied by strength."""
        return AdapterOutput(self.tokens * strength, None if self.pooled is None else self.pooled * strength)


class DPAdapter(nn.Module):
    """MLP projector: [perceptual | semantic] -> num_tokens x context_dim tokens (+ a pooled vector).

    The tokens are layer-normalised per token, like text-encoder outputs, so that they sit at
    the scale the UNet's cross-attention expects. The pooled head starts at zero, so a fresh
    SDXL adapter leaves the pooled text vector untouched.

    Args:
        config: DPAdapterConfig (perceptual_dim P, semantic_dim S (0: perception only), context_dim C
            (768 for SD1.5, 2048 for SDXL), num_tokens N, hidden_dim, pooled_dim (SDXL: 1280, else 0)).

    Call: `adapter(perceptual (B, P), semantic (B, S) or None) -> AdapterOutput(tokens (B, N, C) float32,
    pooled (B, pooled_dim) or None)`; the all-zero perceptual embedding means "no condition" (as in
    training). Several references against one conditioning batch: declip_core.adapter.conditioning.match_batch.
    Load shipped/trained weights with declip_core.adapter.io.load_adapter.

    Raises:
        ValueError (on call): an embedding that is not 2-D, of the wrong width, or a semantic batch size
            that differs from the perceptual one.
    """

    def __init__(self, config: DPAdapterConfig) -> None:
        super().__init__()
        self.config = config
        self.declip_sha256: str | None = None  # the DeCLIP checkpoint it was trained on, when known
        c = config
        self.proj = nn.Sequential(
            nn.Linear(c.input_dim, c.hidden_dim),
            nn.GELU(),
            nn.Linear(c.hidden_dim, c.num_tokens * c.context_dim),
        )
        self.norm = nn.LayerNorm(c.context_dim)
        self.pooled_head: nn.Linear | None = None
        if c.pooled_dim > 0:
            self.pooled_head = nn.Linear(c.input_dim, c.pooled_dim)
            nn.init.zeros_(self.pooled_head.weight)
            nn.init.zeros_(self.pooled_head.bias)

    def _inputs(self, perceptual: torch.Tensor, semantic: torch.Tensor | None) -> torch.Tensor:
        c = self.config
        if not isinstance(perceptual, torch.Tensor) or perceptual.ndim != 2:
            shape = tuple(perceptual.shape) if isinstance(perceptual, torch.Tensor) else type(perceptual).__name__
            raise ValueError(f"perceptual embedding must be a (B, {c.perceptual_dim}) tensor, got {shape}")
        if perceptual.shape[1] != c.perceptual_dim:
            raise ValueError(
                f"perceptual embedding has width {perceptual.shape[1]}, but this adapter was trained "
                f"for width {c.perceptual_dim} (a different DeCLIP model?)"
            )
        if c.semantic_dim == 0:
            if semantic is not None:
                raise ValueError("this adapter reads no semantic embedding (semantic_dim=0); pass semantic=None")
            return perceptual
        if semantic is None:
            # (B, S) zeros: the "no semantic reference" input the adapter is trained with.
            semantic = perceptual.new_zeros(perceptual.shape[0], c.semantic_dim)
        if semantic.ndim != 2 or semantic.shape != (perceptual.shape[0], c.semantic_dim):
            raise ValueError(
                f"semantic embedding must be ({perceptual.shape[0]}, {c.semantic_dim}), got {tuple(semantic.shape)}"
            )
        return torch.cat([perceptual, semantic.to(perceptual.dtype)], dim=1)  # (B, P + S)

    def forward(self, perceptual: torch.Tensor, semantic: torch.Tensor | None = None) -> AdapterOutput:
        """perceptual: (B, P); semantic: (B, S) or None -> tokens (B, N, C), pooled (B, pooled_dim) or None."""
        x = self._inputs(perceptual, semantic)  # (B, P [+ S])
        x = x.to(self.proj[0].weight.dtype)
        tokens = self.proj(x).view(x.shape[0], self.config.num_tokens, self.config.context_dim)  # (B, N, C)
        tokens = self.norm(tokens)
        pooled = self.pooled_head(x) if self.pooled_head is not None else None  # (B, pooled_dim)
        return AdapterOutput(tokens=tokens, pooled=pooled)
