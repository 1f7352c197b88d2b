"""A frozen local diffusers text-to-image model and the denoising loss a DP-Adapter trains with."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from declip_core.adapter.conditioning import append_tokens
from declip_core.adapter.dp_adapter import AdapterOutput


class FrozenDiffusion:
    """UNet, VAE and text encoder(s) of a local diffusers SD1.x/SD2.x/SDXL folder, all frozen.

    `pipe` is the diffusers pipeline itself, so prompts are encoded exactly as at inference.
    """

    def __init__(self, pipe: object, device: str | torch.device = "cpu") -> None:
        from diffusers import DDPMScheduler, UNet2DConditionModel

        for name in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
            if getattr(pipe, name, None) is None:
                raise ValueError(f"{type(pipe).__name__} has no {name!r}; expected a Stable Diffusion (XL) pipeline")
        if not isinstance(pipe.unet, UNet2DConditionModel):
            raise ValueError(f"expected a UNet2DConditionModel, got {type(pipe.unet).__name__}")
        self.pipe = pipe
        self.device = torch.device(device)
        self.unet = pipe.unet
        self.vae = pipe.vae
        for module in self._modules():
            module.requires_grad_(False)
            module.eval()
            module.to(self.device)
        if self.vae.dtype != torch.float32:
            self.vae.to(torch.float32)  # SD/SDXL VAEs overflow in fp16 when encoding
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.is_sdxl = getattr(pipe, "text_encoder_2", None) is not None

    @classmethod
    def from_folder(cls, path: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32) -> FrozenDiffusion:
        """Load a diffusers model folder (with model_index.json) from disk only; never downloads."""
        from diffusers import DiffusionPipeline

        p = Path(path)
        if not (p / "model_index.json").is_file():
            raise ValueError(f"{p}: not a diffusers model folder (no model_index.json)")
        index = json.loads((p / "model_index.json").read_text(encoding="utf-8"))
        extra = {"safety_checker": None, "requires_safety_checker": False} if "safety_checker" in index else {}
        pipe = DiffusionPipeline.from_pretrained(str(p), dtype=dtype, local_files_only=True, **extra)
        return cls(pipe, device=device)

    def _modules(self) -> list[torch.nn.Module]:
        names = ("unet", "vae", "text_encoder", "text_encoder_2")
        return [m for m in (getattr(self.pipe, n, None) for n in names) if m is not None]

    @property
    def context_dim(self) -> int:
        """Width of the UNet's cross-attention context."""
        return int(self.unet.config.cross_attention_dim)

    @property
    def pooled_dim(self) -> int:
        """Width of the pooled text vector the UNet reads (SDXL), else 0."""
        return int(self.pipe.text_encoder_2.config.projection_dim) if self.is_sdxl else 0

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @torch.no_grad()
    def encode_text(self, captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Captions -> context (B, L, C) and, for SDXL, pooled (B, pooled_dim)."""
        out = self.pipe.encode_prompt(
            prompt=list(captions), device=self.device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
        if self.is_sdxl:
            return out[0], out[2]
        return out[0], None

    @torch.no_grad()
    def encode_images(self, images01: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, 3, H, W) in 0..1 -> scaled latents (B, c, H/f, W/f)."""
        if images01.ndim != 4 or images01.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, H, W) in 0..1, got {tuple(images01.shape)}")
        x = images01.to(self.device, torch.float32) * 2.0 - 1.0
        latents = self.vae.encode(x).latent_dist.sample(generator=generator)  # (B, c, h, w)
        shift = getattr(self.vae.config, "shift_factor", None)
        if shift is not None:
            latents = latents - shift
        return latents * self.vae.config.scaling_factor

    def denoising_loss(
        self,
        latents: torch.Tensor,
        context: torch.Tensor,
        pooled: torch.Tensor | None,
        adapter_out: AdapterOutput,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """MSE between the UNet's prediction and its target, with adapter tokens appended to the context.

        latents: (B, c, h, w); context: (B, L, C); pooled: (B, pooled_dim) or None.
        Gradients reach the adapter through the frozen UNet.
        """
        b = latents.shape[0]
        sched = self.noise_scheduler
        noise = torch.randn(latents.shape, generator=generator, device=latents.device, dtype=latents.dtype)
        t = torch.randint(0, sched.config.num_train_timesteps, (b,), generator=generator, device=latents.device)
        noisy = sched.add_noise(latents, noise, t)  # (B, c, h, w)
        if sched.config.prediction_type == "epsilon":
            target = noise
        elif sched.config.prediction_type == "v_prediction":
            target = sched.get_velocity(latents, noise, t)
        else:
            raise ValueError(f"unsupported prediction_type {sched.config.prediction_type!r}")
        ctx = append_tokens(context.to(self.dtype), adapter_out.tokens.to(self.dtype))  # (B, L + N, C)
        added = None
        if self.is_sdxl:
            if pooled is None:
                raise ValueError("SDXL needs the pooled text vector")
            text_embeds = pooled.float()
            if adapter_out.pooled is not None:
                text_embeds = text_embeds + adapter_out.pooled.float()
            h, w = latents.shape[-2] * self.pipe.vae_scale_factor, latents.shape[-1] * self.pipe.vae_scale_factor
            time_ids = torch.tensor([[h, w, 0, 0, h, w]], device=latents.device, dtype=self.dtype).repeat(b, 1)
            added = {"text_embeds": text_embeds.to(self.dtype), "time_ids": time_ids}
        pred = self.unet(noisy.to(self.dtype), t, encoder_hidden_states=ctx, added_cond_kwargs=added).sample
        return F.mse_loss(pred.float(), target.float())
