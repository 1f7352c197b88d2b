"""Encode nodes: IMAGE -> perceptual and semantic embeddings; a perceptual phrase -> perceptual embedding."""
from __future__ import annotations

from typing import Any

import torch

from . import socket_types as T
from .image_convert import comfy_image_to_bchw


def _check_declip(declip: Any) -> None:
    if not hasattr(declip, "embed_images") or not hasattr(declip, "embed_perceptual_text"):
        raise ValueError(f"expected a DeCLIP model (from the DeCLIP Loader), got {type(declip).__name__}")


class DeCLIPImageEncode:
    """How an image looks (perceptual) and what it shows (semantic), as DeCLIP embeddings."""

    DESCRIPTION = "IMAGE (B, H, W, C) -> perceptual (B, P) and semantic (B, S) DeCLIP embeddings."
    CATEGORY = T.CATEGORY
    RETURN_TYPES = (T.PERCEPTUAL, T.SEMANTIC)
    RETURN_NAMES = ("perceptual", "semantic")
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"declip": (T.DECLIP,), "image": ("IMAGE",)}}

    @torch.no_grad()
    def encode(self, declip: Any, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_declip(declip)
        emb = declip.embed_images(comfy_image_to_bchw(image))  # (B, 3, H, W) -> (B, P), (B, S)
        return emb.perceptual.float().cpu(), emb.semantic.float().cpu()


class DeCLIPPhraseEncode:
    """A perceptual phrase ("crisp, clean, well exposed") in DeCLIP's perceptual space."""

    DESCRIPTION = "Text describing how an image should look -> perceptual embedding (1, P)."
    CATEGORY = T.CATEGORY
    RETURN_TYPES = (T.PERCEPTUAL,)
    RETURN_NAMES = ("perceptual",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "declip": (T.DECLIP,),
            "phrase": ("STRING", {"multiline": True, "default": "crisp, clean, well exposed"}),
        }}

    @torch.no_grad()
    def encode(self, declip: Any, phrase: str) -> tuple[torch.Tensor]:
        _check_declip(declip)
        if not isinstance(phrase, str) or not phrase.strip():
            raise ValueError("the perceptual phrase is empty; describe the look, e.g. 'crisp, clean, well exposed'")
        return (declip.embed_perceptual_text([phrase.strip()]).float().cpu(),)  # (1, P)
