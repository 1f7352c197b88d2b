"""Embeddings that remember which DeCLIP checkpoint made them, and the check that an adapter fits them.

A DP-Adapter is trained on the embeddings of one DeCLIP checkpoint; another checkpoint of the same width
gives vectors in a different space, so applying them is wrong even though the shapes match. The
DeCLIP checkpoint's sha256 (`DeCLIP.checkpoint_sha256`, written into the adapter checkpoint as
`declip_sha256`) travels with both, and `check_same_declip` refuses a mismatch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SourcedEmbedding:
    """Embeddings (B, D) float32 and the sha256 of the DeCLIP checkpoint that made them (None: unknown)."""

    vectors: torch.Tensor  # (B, D)
    declip_sha256: str | None

    def __post_init__(self) -> None:
        if not isinstance(self.vectors, torch.Tensor) or self.vectors.ndim != 2:
            shape = tuple(self.vectors.shape) if isinstance(self.vectors, torch.Tensor) else type(self.vectors).__name__
            raise ValueError(f"embeddings must be a (B, D) tensor, got {shape}")


def unwrap(x: SourcedEmbedding | torch.Tensor) -> tuple[torch.Tensor, str | None]:
    """(vectors (B, D), declip sha256 or None) from a SourcedEmbedding or a bare tensor (source unknown)."""
    if isinstance(x, SourcedEmbedding):
        return x.vectors, x.declip_sha256
    return x, None


def check_same_declip(adapter_sha256: str | None, embedding_sha256: str | None, what: str = "embedding") -> None:
    """Raise ValueError when both hashes are known and differ; unknown on either side passes.

    The message says what to do: encode with the DeCLIP checkpoint the adapter was trained with.
    """
    if adapter_sha256 and embedding_sha256 and adapter_sha256 != embedding_sha256:
        raise ValueError(
            f"the {what} comes from DeCLIP checkpoint {embedding_sha256[:12]}…, but this DP-Adapter was trained on "
            f"DeCLIP checkpoint {adapter_sha256[:12]}…: load the DeCLIP checkpoint the adapter was trained with "
            "(its sha256 is 'declip_sha256' in the adapter's .json) and encode with it")
