"""Encode nodes: IMAGE -> perceptual and semantic embeddings; a perceptual phrase -> perceptual embedding.

Embeddings leave these nodes as `SourcedEmbedding`s: the vectors plus the sha256 of the DeCLIP checkpoint
that made them, so that DeCLIP Apply DP-Adapter can refuse an adapter trained on another DeCLIP checkpoint.
"""
from __future__ import annotations

from typing import Any

import torch

from declip_core.adapter.embedding import SourcedEmbedding

from . import socket_types as T
from .image_convert import comfy_image_to_bchw

DECLIP_TOOLTIP = "The DeCLIP model from DeCLIP Loader. Use the same one the DP-Adapter was trained with."


def _check_declip(declip: Any) -> None:
    if not hasattr(declip, "embed_images") or not hasattr(declip, "embed_perceptual_text"):
        raise ValueError(f"expected a DeCLIP model (from the DeCLIP Loader), got {type(declip).__name__}")


class DeCLIPImageEncode:
    """How an image looks (perceptual) and what it shows (semantic), as DeCLIP embeddings."""

    DESCRIPTION = ("Turns each image of the batch into two DeCLIP embeddings: how it looks (perceptual: sharpness, "
                   "noise, exposure, colour...) and what it shows (semantic). Feed them to DeCLIP Apply DP-Adapter "
                   "to generate images that look like this reference.")
    CATEGORY = T.CATEGORY
    RETURN_TYPES = (T.PERCEPTUAL, T.SEMANTIC)
    RETURN_NAMES = ("perceptual", "semantic")
    OUTPUT_TOOLTIPS = ("How each image looks: one DeCLIP perceptual embedding per image of the batch.",
                       ("What each image shows: one DeCLIP semantic embedding per image (read only by adapters "
                        "trained with semantics)."))
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "declip": (T.DECLIP, {"tooltip": DECLIP_TOOLTIP}),
            "image": ("IMAGE", {"tooltip": "The reference image(s); any size, a batch gives one embedding each."}),
        }}

    @torch.no_grad()
    def encode(self, declip: Any, image: torch.Tensor) -> tuple[SourcedEmbedding, SourcedEmbedding]:
        """Args: declip: from DeCLIP Loader; image: ComfyUI IMAGE (B, H, W, C) float 0..1, C in 1, 3, 4.
        Returns: (perceptual, semantic): SourcedEmbedding of (B, P) and (B, S) float32 CPU unit vectors,
        carrying the DeCLIP checkpoint sha256.
        Raises: ValueError: not a DeCLIP model, an image outside the input contract (shape, channels, 0..1)."""
        _check_declip(declip)
        emb = declip.embed_images(comfy_image_to_bchw(image))  # (B, 3, H, W) -> (B, P), (B, S)
        sha = getattr(declip, "checkpoint_sha256", None)
        return (SourcedEmbedding(emb.perceptual.float().cpu(), sha), SourcedEmbedding(emb.semantic.float().cpu(), sha))


class DeCLIPPhraseEncode:
    """A perceptual phrase ("crisp, clean, well exposed") in DeCLIP's perceptual space."""

    DESCRIPTION = ("Turns words about how an image should look ('crisp, clean, well exposed') into a DeCLIP "
                   "perceptual embedding for DeCLIP Apply DP-Adapter.")
    CATEGORY = T.CATEGORY
    RETURN_TYPES = (T.PERCEPTUAL,)
    RETURN_NAMES = ("perceptual",)
    OUTPUT_TOOLTIPS = ("The look described by the phrase, as one DeCLIP perceptual embedding.",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "declip": (T.DECLIP, {"tooltip": DECLIP_TOOLTIP}),
            "phrase": ("STRING", {"multiline": True, "default": "crisp, clean, well exposed",
                                  "tooltip": "Words about the look only (sharpness, noise, light, colour), not the "
                                             "subject. Default: 'crisp, clean, well exposed'."}),
        }}

    @torch.no_grad()
    def encode(self, declip: Any, phrase: str) -> tuple[SourcedEmbedding]:
        """Args: declip: from DeCLIP Loader; phrase: words about the look (stripped; not empty).
        Returns: (perceptual,): SourcedEmbedding of (1, P) float32 CPU unit vectors with the DeCLIP sha256.
        Raises: ValueError: not a DeCLIP model, an empty phrase."""
        _check_declip(declip)
        if not isinstance(phrase, str) or not phrase.strip():
            raise ValueError("the perceptual phrase is empty; describe the look, e.g. 'crisp, clean, well exposed'")
        vectors = declip.embed_perceptual_text([phrase.strip()]).float().cpu()  # (1, P)
        return (SourcedEmbedding(vectors, getattr(declip, "checkpoint_sha256", None)),)
