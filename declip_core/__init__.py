"""DeCLIP: language-guided disentanglement of perceptual and semantic image embeddings.

Light at import: submodules load on first use.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "create_backbone": "declip_core.backbones",
    "DeCLIP": "declip_core.inference",
    "load_declip": "declip_core.inference",
    "create_quality_model": "declip_core.iqa.model",
    "score_files": "declip_core.scoring.files",
    "save_checkpoint": "declip_core.checkpoint",
    "load_checkpoint": "declip_core.checkpoint",
    "list_pretrained": "declip_core.pretrained",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'declip_core' has no attribute {name!r}")
