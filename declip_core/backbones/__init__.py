"""Backbones: `create_backbone(spec)` is the single way to get image and text features.

Specs:
  "lite"                              embedded offline stand-in (EfficientNet-Lite0 + MiniLM; not CLIP)
  "lite1", "lite2"                    the same with EfficientNet-Lite1 (240 px) / Lite2 (260 px) on timm
  "openclip:<arch>/<pretrained tag>"  open_clip weights found in the Hugging Face cache
  "openclip:<arch>@<file or dir>"     open_clip weights from a local file or folder
"""
from __future__ import annotations

from declip_core.backbones.base import Backbone, BackboneInfo, ImageFeatures, PreprocessConfig
from declip_core.backbones.factory import create_backbone, parse_spec

__all__ = ["Backbone", "BackboneInfo", "ImageFeatures", "PreprocessConfig", "create_backbone", "parse_spec"]
