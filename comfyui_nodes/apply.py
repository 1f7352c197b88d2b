"""Apply a DP-Adapter to CONDITIONING: append perceptual tokens, as ComfyUI's StyleModelApply appends style tokens."""
from __future__ import annotations

from typing import Any

import torch

from declip_core.adapter.conditioning import (
    append_tokens,
    extend_attention_mask,
    match_batch,
)
from declip_core.adapter.dp_adapter import DPAdapter
from declip_core.adapter.embedding import SourcedEmbedding, check_same_declip, unwrap

from . import socket_types as T
from .model_paths import declip_names, display_name


def _check_same_declip(adapter: DPAdapter, embedding: Any, what: str) -> None:
    """check_same_declip, with both DeCLIP checkpoints named as the user knows them (files of models/declip/
    or weight tags) where they are installed."""
    try:
        check_same_declip(adapter.declip_sha256, unwrap(embedding)[1], what)
    except ValueError as e:
        made = ", ".join(map(display_name, declip_names(unwrap(embedding)[1]))) or "not installed here"
        trained = ", ".join(map(display_name, declip_names(adapter.declip_sha256))) or "not installed here"
        raise ValueError(f"{e} [the {what} was made by: {made}; the adapter was trained on: {trained}]") from e


def _check_embedding(x: Any, width: int, what: str) -> torch.Tensor:
    x = unwrap(x)[0]
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{what} embedding must be a (B, {width}) tensor from a DeCLIP encode node, got {shape}")
    if x.shape[1] != width:
        raise ValueError(f"{what} embedding is {x.shape[1]} wide but the adapter expects {width}: "
                         "encode with the DeCLIP model the adapter was trained with")
    return x


def apply_adapter(
    conditioning: list[list[Any]],
    adapter: DPAdapter,
    perceptual: SourcedEmbedding | torch.Tensor,
    strength: float,
    semantic: SourcedEmbedding | torch.Tensor | None = None,
) -> list[list[Any]]:
    """New CONDITIONING with the adapter's tokens (x strength) appended to every entry.

    Each entry's dict is copied; an existing attention_mask is grown to cover the new tokens
    (0 bias, exactly as ComfyUI's StyleModelApply in "multiply" mode), the pooled_output gets
    the adapter's pooled vector (SDXL adapters only), and all other keys pass through untouched.
    strength 0 returns the conditioning unchanged. Embeddings from another DeCLIP checkpoint than the
    adapter's (both sha256 known and different) are refused with a ValueError.
    """
    if not isinstance(adapter, DPAdapter):
        raise ValueError(f"expected a DP_ADAPTER from the DP-Adapter Loader, got {type(adapter).__name__}")
    if not isinstance(conditioning, list) or not all(isinstance(c, (list, tuple)) and len(c) == 2 for c in conditioning):
        raise ValueError("expected CONDITIONING: a list of [tensor (B, L, C), dict] pairs")
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    cfg = adapter.config
    _check_same_declip(adapter, perceptual, "perceptual embedding")
    perceptual = _check_embedding(perceptual, cfg.perceptual_dim, "perceptual")
    if semantic is not None and cfg.semantic_dim == 0:
        semantic = None  # this adapter reads perception only; a wired semantic embedding is not used
    elif semantic is not None:
        _check_same_declip(adapter, semantic, "semantic embedding")
        semantic = _check_embedding(semantic, cfg.semantic_dim, "semantic")
        if semantic.shape[0] != perceptual.shape[0]:
            raise ValueError(f"{perceptual.shape[0]} perceptual but {semantic.shape[0]} semantic embeddings")
    for txt, _ in conditioning:
        if not isinstance(txt, torch.Tensor) or txt.ndim != 3:
            raise ValueError(f"conditioning tensors must be (B, L, C), got {getattr(txt, 'shape', type(txt).__name__)}")
        if txt.shape[-1] != cfg.context_dim:
            raise ValueError(f"the conditioning is {txt.shape[-1]} wide but this DP-Adapter makes {cfg.context_dim}-wide "
                             "tokens: it was trained for another model family (SD1.5 is 768, SDXL 2048)")
    if strength == 0:
        return [[txt, dict(keys)] for txt, keys in conditioning]
    with torch.no_grad():
        out = adapter(perceptual.float(), None if semantic is None else semantic.float()).scaled(strength)
    result = []
    for txt, keys in conditioning:
        keys = dict(keys)
        new_txt = append_tokens(txt, out.tokens)  # (B, L + N', C)
        n_new = new_txt.shape[1] - txt.shape[1]
        if "attention_mask" in keys:  # same bookkeeping as StyleModelApply: (1, 1) reference tokens by default
            ref_shape = keys.get("attention_mask_img_shape", (1, 1))
            n_ref = ref_shape[0] * ref_shape[1]
            mask = keys["attention_mask"]
            if mask is None:  # a key without a mask: start from "attend everywhere"
                mask = torch.zeros((txt.shape[0], txt.shape[1] + n_ref, txt.shape[1] + n_ref), dtype=torch.float16)
            keys["attention_mask"] = extend_attention_mask(mask, txt.shape[1], n_new, n_ref).to(txt.device)
            keys["attention_mask_img_shape"] = ref_shape
        if out.pooled is not None:
            pooled = keys.get("pooled_output")
            if not isinstance(pooled, torch.Tensor) or pooled.shape[-1] != cfg.pooled_dim:
                raise ValueError(f"this DP-Adapter adds a {cfg.pooled_dim}-wide pooled vector but the conditioning's "
                                 f"pooled_output is {getattr(pooled, 'shape', None)}: use it with SDXL conditioning")
            keys["pooled_output"] = pooled + match_batch(out.pooled, pooled.shape[0]).to(pooled)
        result.append([new_txt, keys])
    return result


class DPAdapterApply:
    """Condition generation on how an image should look: CONDITIONING + perceptual embedding -> CONDITIONING."""

    DESCRIPTION = ("Steers generation towards a look (from a reference image or a phrase) by appending the "
                   "DP-Adapter's tokens to the prompt conditioning, like Apply Style Model. Needs a DP-Adapter "
                   "trained for your diffusion model and DeCLIP model.")
    CATEGORY = T.CATEGORY
    RETURN_TYPES = ("CONDITIONING",)
    OUTPUT_TOOLTIPS = ("The conditioning with the look added; connect it to the sampler's positive input.",)
    FUNCTION = "apply"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "conditioning": ("CONDITIONING", {"tooltip": "The prompt conditioning (from CLIP Text Encode)."}),
                "dp_adapter": (T.DP_ADAPTER, {"tooltip": "The DP-Adapter from DeCLIP DP-Adapter Loader; it must "
                                                         "match your diffusion model (SD1.5 or SDXL)."}),
                "perceptual": (T.PERCEPTUAL, {"tooltip": "The look to aim for, from DeCLIP Encode Image or DeCLIP "
                                                         "Encode Perceptual Phrase (same DeCLIP model as the "
                                                         "adapter's)."}),
                "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.01,
                                       "tooltip": "How strongly the look is applied: 0 = off (conditioning "
                                                  "unchanged), 1 = as trained (default), up to 10."}),
            },
            "optional": {"semantic": (T.SEMANTIC, {"tooltip": "Optional: what the reference shows. Only read by "
                                                              "adapters trained with semantics; ignored otherwise."})},
        }

    def apply(
        self,
        conditioning: list[list[Any]],
        dp_adapter: DPAdapter,
        perceptual: SourcedEmbedding | torch.Tensor,
        strength: float,
        semantic: SourcedEmbedding | torch.Tensor | None = None,
    ) -> tuple[list[list[Any]]]:
        """Args: conditioning: CONDITIONING [[tensor (B, L, C), dict], ...]; dp_adapter: from DP-Adapter Loader;
        perceptual: (Be, P) embeddings from a DeCLIP encode node; strength: >= 0 (0: unchanged, 1: as
        trained); semantic: optional (Be, S), read only by adapters trained with semantics.
        Returns: (CONDITIONING,) with N' adapter tokens appended per entry, (B, L + N', C); Be references
        meet the batch of B by declip_core.adapter.conditioning.match_batch (shared, one each, B / Be each,
        or all on one sample); SDXL adapters add to pooled_output; attention masks are grown.
        Raises: ValueError: a width or model-family mismatch, references that cannot be matched to the
        batch, embeddings from another DeCLIP than the adapter's, strength < 0."""
        return (apply_adapter(conditioning, dp_adapter, perceptual, float(strength), semantic),)
