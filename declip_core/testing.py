"""Tiny, randomly initialised DeCLIP parts for fast tests (no weights, deterministic per seed).

Test support, not inference: no module of the inference package imports it (tests/test_import_boundaries.py),
and it may use training helpers (the scoped RNG of declip_core.training.runtime). It lives in the package,
not under tests/, so that subprocesses, benchmarks and the ComfyUI test scripts can import it.

`TinyBackbone` is a real Backbone implementation (a 3-layer conv net and a hashed
character-trigram text encoder), so code under test runs the same paths as with `lite`.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from declip_core.backbones.base import Backbone, BackboneInfo, ImageFeatures, PreprocessConfig
from declip_core.backbones.efficientnet_lite import channel_stats
from declip_core.model import Disentangler, DisentanglerConfig
from declip_core.training.runtime import isolated_rng
from declip_core.transforms import make_pil_transform

TINY_PREPROCESS = PreprocessConfig(image_size=32, resize="shortest", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
_BUCKETS = 512


def _trigram_ids(text: str) -> list[int]:
    t = f"  {text.lower()}  "
    return [int.from_bytes(hashlib.blake2s(t[i : i + 3].encode(), digest_size=4).digest(), "little") % _BUCKETS
            for i in range(len(t) - 2)]


class TinyBackbone(Backbone):
    """Random conv image tower (pooled 32-d, stats 48-d) and hashed-trigram text tower (24-d)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.text_table = nn.Embedding(_BUCKETS, 24)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        for p in self.parameters():
            p.requires_grad_(False)
        self.info = BackboneInfo(spec="tiny", kind="tiny", image_dim=32, stats_dim=2 * (8 + 16), text_dim=24,
                                 weight_source=f"random:seed={seed}", sha256=None, preprocess=TINY_PREPROCESS)
        self.preprocess = make_pil_transform(TINY_PREPROCESS)

    @property
    def tokenizer(self):  # type: ignore[override]
        return _trigram_ids

    def encode_image(self, images: torch.Tensor, with_levels: bool = False) -> ImageFeatures:
        h1 = F.gelu(self.c1(images))  # (B, 8, H/2, W/2)
        h2 = F.gelu(self.c2(h1))  # (B, 16, H/4, W/4)
        h3 = F.gelu(self.c3(h2))  # (B, 32, H/8, W/8)
        return ImageFeatures(pooled=h3.mean(dim=(2, 3)), stats=channel_stats([h1, h2]),
                             levels=[h1, h2] if with_levels else [], final=h3 if with_levels else None)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        dev = self.text_table.weight.device
        rows = [self.text_table(torch.tensor(_trigram_ids(t) or [0], device=dev)).mean(0) for t in texts]
        return F.normalize(torch.stack(rows), dim=-1)  # (T, 24)


@isolated_rng
def tiny_declip(seed: int = 0, perceptual_dim: int = 16, semantic_dim: int = 16):
    """A DeCLIP with TinyBackbone and a random disentangler, in eval mode."""
    from declip_core.inference import DeCLIP

    torch.manual_seed(seed)
    bb = TinyBackbone(seed)
    cfg = DisentanglerConfig(backbone="tiny", image_in_dim=bb.info.feature_dim, text_in_dim=bb.info.text_dim,
                             perceptual_dim=perceptual_dim, semantic_dim=semantic_dim, hidden=32, depth=1,
                             text_hidden=32, text_depth=1, dropout=0.0)
    return DeCLIP(bb, Disentangler(cfg)).eval()
