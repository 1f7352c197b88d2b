"""Generate with a diffusers SD1.x / SDXL pipeline, a prompt and a perceptual reference (image or phrase).

    from declip_core.adapter.diffusers_helper import generate
    images = generate(pipe, adapter, declip, "a lighthouse at dusk",
                      reference=load_image("crisp_photo.jpg"), strength=0.8).images  # declip_core.io.load_image
    images = generate(pipe, adapter, declip, "a lighthouse at dusk",
                      phrase="crisp, clean, well exposed", negative_phrase="blurry, noisy").images

The adapter's tokens are appended to the prompt embeddings (and its pooled vector added for
SDXL); the pipeline itself is not patched.
"""
from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from declip_core.adapter.conditioning import append_tokens, match_batch
from declip_core.adapter.dp_adapter import DPAdapter
from declip_core.inputs import as_images01
from declip_core.transforms import pil_to_tensor01


def _as_images01(reference: Image.Image | torch.Tensor) -> torch.Tensor:
    """PIL image (any mode: declip_core.io.to_rgb, alpha on white) or a tensor by the input contract
    (declip_core.inputs.as_images01: (C, H, W) or (B, C, H, W), C in 1, 3, 4, uint8 or float in 0..1)
    -> (B, 3, H, W) float32 in 0..1. Raises ValueError."""
    if isinstance(reference, Image.Image):
        return pil_to_tensor01(reference).unsqueeze(0)
    if isinstance(reference, torch.Tensor):
        return as_images01(reference, name="reference image")
    raise ValueError(f"reference must be a PIL image or a tensor, got {type(reference).__name__}")


@torch.no_grad()
def perceptual_condition(
    declip: Any, reference: Image.Image | torch.Tensor | None = None, phrase: str | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """DeCLIP embeddings of exactly one of a reference image or a perceptual phrase.

    Returns perceptual (B, P) and semantic (B, S) for an image, (1, P) and None for a phrase.
    """
    if (reference is None) == (phrase is None):
        raise ValueError("give exactly one of reference (an image) or phrase (a perceptual description)")
    if phrase is not None:
        if not isinstance(phrase, str) or not phrase.strip():
            raise ValueError("phrase must be a non-empty string")
        return declip.embed_perceptual_text([phrase]), None
    device = next(declip.parameters()).device
    x = _as_images01(reference).to(device)  # the input contract, once: not again in features()
    emb = declip.embed_features(declip.features(x, checked=False))
    return emb.perceptual, emb.semantic


@torch.no_grad()
def perceptual_prompt_embeds(
    pipe: Any,
    adapter: DPAdapter,
    prompt: str | list[str],
    perceptual: torch.Tensor,
    *,
    semantic: torch.Tensor | None = None,
    strength: float = 1.0,
    negative_prompt: str | list[str] | None = None,
    negative_perceptual: torch.Tensor | None = None,
    num_images_per_prompt: int = 1,
) -> dict[str, torch.Tensor]:
    """Keyword arguments for `pipe(...)`: prompt embeddings with the adapter's tokens appended.

    The negative branch gets the adapter's output for `negative_perceptual`, or for the null
    (all-zero) embedding the adapter was trained with as "no perceptual condition".
    strength scales the tokens (and SDXL pooled vector); 0 appends nothing: the plain pipeline.
    """
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    device = pipe._execution_device
    is_sdxl = getattr(pipe, "text_encoder_2", None) is not None
    out = pipe.encode_prompt(prompt=prompt, device=device, num_images_per_prompt=num_images_per_prompt,
                             do_classifier_free_guidance=True, negative_prompt=negative_prompt)
    embeds, neg_embeds = out[0], out[1]  # (B, L, C) each
    pooled, neg_pooled = (out[2], out[3]) if is_sdxl else (None, None)
    if embeds.shape[-1] != adapter.config.context_dim:
        raise ValueError(f"the pipeline's text conditioning is {embeds.shape[-1]} wide but the adapter makes "
                         f"{adapter.config.context_dim}-wide tokens: it was trained for another model family")
    if strength > 0:
        adapter_device = next(adapter.parameters()).device
        pos = adapter(perceptual.to(adapter_device), None if semantic is None else semantic.to(adapter_device))
        # the negative branch gets as many references as the positive one, so that match_batch gives both
        # branches the same token count (classifier-free guidance stacks them into one batch)
        be = perceptual.shape[0]
        null = torch.zeros_like(perceptual) if negative_perceptual is None else match_batch(negative_perceptual, be)
        neg = adapter(null.to(adapter_device), None if semantic is None else torch.zeros_like(semantic))
        pos, neg = pos.scaled(strength), neg.scaled(strength)
        embeds = append_tokens(embeds, pos.tokens)  # (B, L + N', C) by match_batch's rule
        neg_embeds = append_tokens(neg_embeds, neg.tokens)
        if is_sdxl and pos.pooled is not None and neg.pooled is not None:
            pooled = pooled + match_batch(pos.pooled, pooled.shape[0]).to(pooled)
            neg_pooled = neg_pooled + match_batch(neg.pooled, neg_pooled.shape[0]).to(neg_pooled)
    kwargs = {"prompt_embeds": embeds, "negative_prompt_embeds": neg_embeds}
    if is_sdxl:
        kwargs.update(pooled_prompt_embeds=pooled, negative_pooled_prompt_embeds=neg_pooled)
    return kwargs


def generate(
    pipe: Any,
    adapter: DPAdapter,
    declip: Any,
    prompt: str | list[str],
    *,
    reference: Image.Image | torch.Tensor | None = None,
    phrase: str | None = None,
    strength: float = 1.0,
    negative_prompt: str | list[str] | None = None,
    negative_phrase: str | None = None,
    use_semantic: bool = False,
    num_images_per_prompt: int = 1,
    **pipe_kwargs: Any,
) -> Any:
    """Run the pipeline with a prompt plus a perceptual reference image or phrase; returns its output.

    use_semantic feeds the reference image's semantic embedding too (only for adapters trained
    with it); by default only how the reference looks is transferred, not what it shows.
    """
    perceptual, semantic = perceptual_condition(declip, reference=reference, phrase=phrase)
    if not use_semantic:
        semantic = None
    elif adapter.config.semantic_dim == 0:
        raise ValueError("use_semantic=True but this adapter was trained without semantic input")
    negative = perceptual_condition(declip, phrase=negative_phrase)[0] if negative_phrase else None
    kwargs = perceptual_prompt_embeds(
        pipe, adapter, prompt, perceptual, semantic=semantic, strength=strength, negative_prompt=negative_prompt,
        negative_perceptual=negative, num_images_per_prompt=num_images_per_prompt,
    )
    return pipe(num_images_per_prompt=1, **kwargs, **pipe_kwargs)
