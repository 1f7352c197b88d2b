"""Tiny, randomly initialised diffusers SD / SDXL model folders for fast, offline tests.

Shapes follow diffusers' own pipeline tests; the CLIP tokenizer is a byte-level one built
in memory (no merges), so nothing is downloaded.
"""
from __future__ import annotations

from pathlib import Path

import torch

from declip_core.training.runtime import isolated_rng


def _byte_chars() -> list[str]:
    """The 256 printable stand-ins that byte-level BPE uses for bytes (GPT-2 / CLIP convention)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def tiny_clip_tokenizer(max_length: int = 77) -> object:
    """A character-level CLIPTokenizer (514 tokens: bytes, bytes + '</w>', bos, eos)."""
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {}
    for suffix in ("", "</w>"):
        for c in _byte_chars():
            vocab[c + suffix] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=max_length)


def _text_config(hidden: int, projection: int) -> object:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=512, eos_token_id=513, pad_token_id=513, vocab_size=514, hidden_size=hidden,
        intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=77,
        projection_dim=projection, hidden_act="gelu",
    )


def _vae() -> object:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), sample_size=32,
    )


def _scheduler() -> object:
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1)


@isolated_rng
def make_tiny_sd(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny SD1.x-shaped pipeline (context width 32) to `folder`; returns the folder."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=4,
    )
    pipe = StableDiffusionPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(_text_config(32, 32)), tokenizer=tiny_clip_tokenizer(), unet=unet,
        scheduler=_scheduler(), safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(str(folder))
    return Path(folder)


@isolated_rng
def make_tiny_sdxl(folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny SDXL-shaped pipeline (context 64 = 32 + 32, pooled 32) to `folder`; returns the folder."""
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=64, norm_num_groups=4,
    )
    pipe = StableDiffusionXLPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(_text_config(32, 32)),
        text_encoder_2=CLIPTextModelWithProjection(_text_config(32, 32)), tokenizer=tiny_clip_tokenizer(),
        tokenizer_2=tiny_clip_tokenizer(), unet=unet, scheduler=_scheduler(), force_zeros_for_empty_prompt=False,
    )
    pipe.save_pretrained(str(folder))
    return Path(folder)
