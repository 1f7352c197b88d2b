"""Loader nodes: a DeCLIP model and a DP-Adapter from `models/declip/` (or a weight tag)."""
from __future__ import annotations

from typing import Any

from . import socket_types as T
from .model_paths import list_checkpoints, resolve


def _choices(kind: str) -> list[str]:
    from declip_core.pretrained import list_pretrained

    return list_checkpoints(kind) + list_pretrained(kind)


class DeCLIPLoader:
    """Load a DeCLIP model (perceptual and semantic image/text embeddings)."""

    DESCRIPTION = "Loads a DeCLIP checkpoint from models/declip/ (or a bundled weight tag). Runs on the CPU."
    CATEGORY = T.CATEGORY
    RETURN_TYPES = (T.DECLIP,)
    RETURN_NAMES = ("declip",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"declip_name": (_choices("declip"), {"tooltip": "a kind 'declip' checkpoint"})}}

    def load(self, declip_name: str) -> tuple[Any]:
        from declip_core.inference import load_declip

        return (load_declip(resolve(declip_name), device="cpu"),)


class DPAdapterLoader:
    """Load a DP-Adapter trained for one diffusion model family (SD1.5: 768 wide, SDXL: 2048)."""

    DESCRIPTION = "Loads a DP-Adapter checkpoint from models/declip/ (kind 'dp_adapter')."
    CATEGORY = T.CATEGORY
    RETURN_TYPES = (T.DP_ADAPTER,)
    RETURN_NAMES = ("dp_adapter",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"adapter_name": (_choices("dp_adapter"), {"tooltip": "a kind 'dp_adapter' checkpoint"})}}

    def load(self, adapter_name: str) -> tuple[Any]:
        from declip_core.adapter.io import CHECKPOINT_KIND, load_adapter
        from declip_core.pretrained import resolve_checkpoint

        return (load_adapter(resolve_checkpoint(resolve(adapter_name), kind=CHECKPOINT_KIND), device="cpu"),)
