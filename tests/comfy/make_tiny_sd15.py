"""Write a randomly initialised, SD1.5-shaped diffusers folder that ComfyUI's DiffusersLoader loads.

    python tests/comfy/make_tiny_sd15.py /tmp/models/diffusers/tiny_sd15

Full SD1.5 shapes are needed (ComfyUI detects the model family from tensor shapes); the weights
are random and stored as float16 (about 2 GB), made at test time, never committed. The text
encoder is written with the `text_model.` key prefix: transformers 5 drops it on save and
ComfyUI would silently skip those weights (NaN images).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import save_file


def _save(module: torch.nn.Module, path: Path, prefix: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {}
    for k, v in module.state_dict().items():
        key = k if not prefix or k.startswith(prefix) else prefix + k
        sd[key] = v.detach().to(torch.float16).contiguous()
    save_file(sd, str(path))


def _config(path: Path, cfg: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")


def make_tiny_sd15(folder: str | Path, seed: int = 0) -> Path:
    """Write model_index.json, unet/, vae/ and text_encoder/ (float16 safetensors) to `folder`."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    out = Path(folder)
    torch.manual_seed(seed)
    with torch.no_grad():
        unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
        _save(unet, out / "unet" / "diffusion_pytorch_model.fp16.safetensors")
        _config(out / "unet" / "config.json", dict(unet.config))
        del unet
        vae = AutoencoderKL(
            block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=512,
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        )
        _save(vae, out / "vae" / "diffusion_pytorch_model.fp16.safetensors")
        _config(out / "vae" / "config.json", dict(vae.config))
        del vae
        tcfg = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                              num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                              projection_dim=768)
        text = CLIPTextModel(tcfg)
        _save(text, out / "text_encoder" / "model.fp16.safetensors", prefix="text_model.")
        _config(out / "text_encoder" / "config.json", tcfg.to_dict())
    _config(out / "model_index.json", {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"],
    })
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(make_tiny_sd15(a.folder, a.seed))
