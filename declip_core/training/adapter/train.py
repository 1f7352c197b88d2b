"""DP-Adapter training loop: frozen DeCLIP + frozen diffusion model, the adapter learns the denoising loss."""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from declip_core.training.adapter.data import CaptionedImageDataset
from declip_core.training.adapter.diffusion import FrozenDiffusion
from declip_core.adapter.dp_adapter import DPAdapter, DPAdapterConfig
from declip_core.adapter.io import save_adapter
from declip_core.training.runtime import isolated_rng


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; stored in the adapter checkpoint's metadata."""

    pretrained: str  # local diffusers folder
    data: str  # folder with metadata.jsonl
    output: str  # adapter .safetensors path
    declip: str = "lite"  # DeCLIP weight tag or checkpoint path
    num_tokens: int = 4
    hidden_dim: int = 1024
    use_semantic: bool = False
    resolution: int = 512
    batch_size: int = 4
    steps: int = 1000
    lr: float = 1e-4
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    drop_perceptual_prob: float = 0.05  # condition dropout, so classifier-free guidance has a null input
    drop_text_prob: float = 0.05
    text_embedding_prob: float = 0.0  # use the perceptual_text's embedding instead of the image's
    overfit_batch: bool = False  # repeat the first batch with fixed noise (a sanity check)
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"  # of the frozen diffusion model: float32, float16, bfloat16
    num_workers: int = 0
    log_every: int = 10
    save_every: int = 0
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        for name in ("drop_perceptual_prob", "drop_text_prob", "text_embedding_prob"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")


_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class TrainResult:
    """Where the adapter was saved, the per-step losses, and the trained adapter itself."""

    output: Path
    adapter: DPAdapter
    losses: list[float] = field(default_factory=list)


def _batches(loader: DataLoader, overfit: bool) -> Iterator[dict[str, Any]]:
    if overfit:
        first = next(iter(loader))
        while True:
            yield first
    while True:
        yield from loader


def _conditions(
    declip: Any, batch: dict[str, Any], cfg: TrainConfig, use_semantic: bool, g: torch.Generator, device: str
) -> tuple[torch.Tensor, torch.Tensor | None, list[str]]:
    """Perceptual (B, P), semantic (B, S) or None, captions; with condition dropout applied."""
    images = batch["image"].to(device)  # (B, 3, R, R)
    b = images.shape[0]
    with torch.no_grad():
        emb = declip.embed_images(images)
        perceptual = emb.perceptual.float()  # (B, P)
        semantic = emb.semantic.float() if use_semantic else None  # (B, S)
        if cfg.text_embedding_prob > 0:
            ptexts = list(batch["perceptual_text"])
            use = [bool(t) and torch.rand((), generator=g).item() < cfg.text_embedding_prob for t in ptexts]
            if any(use):
                idx = [i for i, u in enumerate(use) if u]
                perceptual[idx] = declip.embed_perceptual_text([ptexts[i] for i in idx]).float()
    drop_p = (torch.rand(b, generator=g) < cfg.drop_perceptual_prob).to(device)  # (B,)
    perceptual = perceptual.masked_fill(drop_p[:, None], 0.0)
    if semantic is not None:
        semantic = semantic.masked_fill(drop_p[:, None], 0.0)
    drop_t = torch.rand(b, generator=g) < cfg.drop_text_prob
    captions = ["" if d else t for d, t in zip(drop_t.tolist(), batch["text"])]
    return perceptual, semantic, captions


@isolated_rng
def train(cfg: TrainConfig, log: Callable[[str], None] = print, declip: Any = None) -> TrainResult:
    """Train a DP-Adapter for the diffusion model in cfg.pretrained and save it to cfg.output.

    declip: an already built DeCLIP model (tests); None loads cfg.declip.
    """
    torch.manual_seed(cfg.seed)
    diffusion = FrozenDiffusion.from_folder(cfg.pretrained, device=cfg.device, dtype=_DTYPES[cfg.dtype])
    if cfg.gradient_checkpointing:
        diffusion.unet.enable_gradient_checkpointing()
    if declip is None:
        from declip_core.inference import load_declip

        declip = load_declip(cfg.declip, device=cfg.device)
    declip = declip.to(cfg.device).eval()
    declip.requires_grad_(False)
    acfg = DPAdapterConfig(
        perceptual_dim=declip.perceptual_dim, context_dim=diffusion.context_dim, num_tokens=cfg.num_tokens,
        semantic_dim=declip.semantic_dim if cfg.use_semantic else 0, pooled_dim=diffusion.pooled_dim,
        hidden_dim=cfg.hidden_dim,
    )
    adapter = DPAdapter(acfg).to(cfg.device).train()
    adapter.declip_sha256 = declip.checkpoint_sha256  # saved with it: embeddings of other DeCLIPs are refused
    opt = torch.optim.AdamW(adapter.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    data = CaptionedImageDataset(cfg.data, cfg.resolution)
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=not cfg.overfit_batch, drop_last=len(data) >= cfg.batch_size,
                        num_workers=cfg.num_workers, generator=torch.Generator().manual_seed(cfg.seed))
    g = torch.Generator().manual_seed(cfg.seed)
    meta = {"train": asdict(cfg), "base_model": {"path": str(cfg.pretrained), "sdxl": diffusion.is_sdxl,
                                                 "class": type(diffusion.pipe).__name__}}
    result = TrainResult(output=Path(cfg.output), adapter=adapter)
    log(json.dumps({"event": "start", "adapter": acfg.to_dict(), "images": len(data),
                    "trainable_params": sum(p.numel() for p in adapter.parameters())}))
    for step, batch in zip(range(1, cfg.steps + 1), _batches(loader, cfg.overfit_batch)):
        if cfg.overfit_batch:
            g.manual_seed(cfg.seed)  # same dropout, noise and timesteps every step: a fixed objective
        perceptual, semantic, captions = _conditions(declip, batch, cfg, cfg.use_semantic, g, cfg.device)
        context, pooled = diffusion.encode_text(captions)  # (B, L, C), (B, pooled) | None
        noise_g = torch.Generator(device=cfg.device).manual_seed(int(torch.randint(0, 2**31, (1,), generator=g)))
        latents = diffusion.encode_images(batch["image"], generator=noise_g)  # (B, c, h, w)
        loss = diffusion.denoising_loss(latents, context, pooled, adapter(perceptual, semantic), generator=noise_g)
        if not math.isfinite(loss.item()):
            raise ValueError(f"step {step}: loss is {loss.item()}; lower the learning rate or use float32")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(adapter.parameters(), cfg.max_grad_norm)
        opt.step()
        result.losses.append(loss.item())
        if step % cfg.log_every == 0 or step == cfg.steps:
            recent = result.losses[-cfg.log_every :]
            log(json.dumps({"event": "step", "step": step, "loss": sum(recent) / len(recent)}))
        if cfg.save_every and step % cfg.save_every == 0 and step < cfg.steps:
            out = Path(cfg.output)
            save_adapter(adapter, out.with_name(f"{out.stem}-step{step}.safetensors"), {**meta, "step": step})
    adapter.eval()
    save_adapter(adapter, cfg.output, {**meta, "step": cfg.steps, "final_loss": result.losses[-1]})
    log(json.dumps({"event": "saved", "path": str(cfg.output)}))
    return result


def stderr_log(msg: str) -> None:
    """Log sink for command-line runs."""
    print(msg, file=sys.stderr, flush=True)
