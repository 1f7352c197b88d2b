"""ControlDemo: a small pixel-space UNet2DConditionModel whose only condition is the DP-Adapter's tokens.

encoder_hidden_states = DPAdapter(perceptual).tokens  (B, N, C); there is no text encoder, no class
or time-embedding condition. The all-zero perceptual embedding is the learned "no condition" used
for classifier-free guidance.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from declip_core.adapter.dp_adapter import DPAdapter, DPAdapterConfig
from declip_core.checkpoint import load_checkpoint, save_checkpoint

CHECKPOINT_KIND = "control_demo"


@dataclass(frozen=True)
class ControlDemoConfig:
    """Architecture and noise schedule; stored in every checkpoint.

    cross_attention: per resolution level (top first), whether its blocks have cross-attention;
    the mid block always has it.
    """

    perceptual_dim: int = 128
    image_size: int = 32
    block_out_channels: tuple[int, ...] = (32, 64, 96)
    cross_attention: tuple[bool, ...] = (False, False, True)
    layers_per_block: int = 1
    attention_head_dim: int = 8
    norm_num_groups: int = 8
    context_dim: int = 64
    num_tokens: int = 4
    adapter_hidden: int = 256
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "v_prediction"

    def __post_init__(self) -> None:
        if len(self.block_out_channels) != len(self.cross_attention) or not self.block_out_channels:
            raise ValueError("block_out_channels and cross_attention need the same, non-zero length")
        if any(c % self.norm_num_groups for c in self.block_out_channels):
            raise ValueError(f"every block width must be divisible by norm_num_groups={self.norm_num_groups}")
        if self.image_size % 2 ** (len(self.block_out_channels) - 1):
            raise ValueError(f"image_size {self.image_size} cannot be halved {len(self.block_out_channels) - 1} times")
        if self.prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"prediction_type must be 'epsilon' or 'v_prediction', got {self.prediction_type!r}")
        for name in ("perceptual_dim", "context_dim", "num_tokens", "adapter_hidden", "num_train_timesteps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["block_out_channels"] = list(self.block_out_channels)
        d["cross_attention"] = list(self.cross_attention)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ControlDemoConfig:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for k in ("block_out_channels", "cross_attention"):
            if k in known:
                known[k] = tuple(known[k])
        return cls(**known)


def make_scheduler(cfg: ControlDemoConfig) -> Any:
    """The DDIM scheduler used to add noise in training and to sample ("trailing" spacing)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(num_train_timesteps=cfg.num_train_timesteps, beta_schedule=cfg.beta_schedule,
                         prediction_type=cfg.prediction_type, clip_sample=True, clip_sample_range=1.0,
                         set_alpha_to_one=True, timestep_spacing="trailing")


class ControlDemo(nn.Module):
    """UNet2DConditionModel (3 -> 3 channels) + DPAdapter; forward(x_t, t, perceptual) -> prediction."""

    def __init__(self, cfg: ControlDemoConfig) -> None:
        super().__init__()
        from diffusers import UNet2DConditionModel

        self.cfg = cfg
        n = len(cfg.block_out_channels)
        down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in cfg.cross_attention)
        up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(cfg.cross_attention))
        self.unet = UNet2DConditionModel(
            sample_size=cfg.image_size, in_channels=3, out_channels=3, block_out_channels=cfg.block_out_channels,
            layers_per_block=cfg.layers_per_block, down_block_types=down, up_block_types=up,
            cross_attention_dim=cfg.context_dim, attention_head_dim=cfg.attention_head_dim,
            norm_num_groups=cfg.norm_num_groups,
        )
        if len(self.unet.down_blocks) != n:
            raise ValueError(f"UNet has {len(self.unet.down_blocks)} levels, config asks for {n}")
        self.adapter = DPAdapter(DPAdapterConfig(perceptual_dim=cfg.perceptual_dim, context_dim=cfg.context_dim,
                                                 num_tokens=cfg.num_tokens, hidden_dim=cfg.adapter_hidden))

    def tokens(self, perceptual: torch.Tensor) -> torch.Tensor:
        """(B, P) perceptual embeddings (zeros = no condition) -> (B, N, C) context tokens."""
        return self.adapter(perceptual).tokens

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, perceptual: torch.Tensor) -> torch.Tensor:
        """x_t (B, 3, H, W), t (B,), perceptual (B, P) -> (B, 3, H, W) epsilon or v prediction."""
        return self.unet(x_t, t, encoder_hidden_states=self.tokens(perceptual)).sample


def save_control_demo(path: str | Path, model: ControlDemo, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write weights and config (kind "control_demo"); `metadata` records how the model was made."""
    cfg: dict[str, Any] = {"kind": CHECKPOINT_KIND, "model": model.cfg.to_dict()}
    if metadata:
        cfg["metadata"] = dict(metadata)
    return save_checkpoint(path, model.state_dict(), cfg)


def load_control_demo(path: str | Path, device: str = "cpu") -> tuple[ControlDemo, dict[str, Any]]:
    """(model in eval mode, metadata) from a checkpoint; ValueError for another kind or mismatched tensors."""
    tensors, cfg = load_checkpoint(path, kind=CHECKPOINT_KIND)
    model = ControlDemo(ControlDemoConfig.from_dict(cfg["model"]))
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{path}: tensors do not fit the model config: {e}") from e
    return model.eval().to(device), dict(cfg.get("metadata", {}))


def _noise(seeds: Sequence[int], shape: tuple[int, ...], salt: int) -> torch.Tensor:
    """(B, *shape) standard normal noise, one independent stream per seed (and salt)."""
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(int(s) * 7919 + salt))
                        for s in seeds])


def declip_for(meta: dict[str, Any]) -> str:
    """The DeCLIP a control demo was trained on, as a name `load_declip` takes: the weight tag whose sha256 is the
    metadata's `declip_sha256` ('lite-v1' for the shipped `control-demo`), else the `declip` name recorded at
    training time. Its perceptual embeddings are the only ones the model was trained to read. ValueError when
    the metadata records neither."""
    from declip_core.pretrained import tags_with_sha256

    sha = meta.get("declip_sha256")
    tags = tags_with_sha256(str(sha), kind="declip") if sha else []
    if tags:
        return tags[0]
    if not meta.get("declip"):
        raise ValueError("the control demo's metadata records no DeCLIP ('declip_sha256' or 'declip')")
    return str(meta["declip"])


@torch.no_grad()
def sample(model: ControlDemo, perceptual: torch.Tensor, seeds: Sequence[int], steps: int = 30,
           guidance: float = 2.0, eta: float = 0.0) -> torch.Tensor:
    """DDIM samples (B, 3, H, W) in 0..1 for perceptual conditions (B, P), one seed per sample.

    Each sample's noise depends only on its seed, so two calls that differ only in the conditions
    start from (and, for eta > 0, add) the same noise. guidance 1 means no classifier-free guidance.
    """
    if perceptual.ndim != 2 or perceptual.shape[0] != len(seeds):
        raise ValueError(f"need (B, P) conditions and B seeds, got {tuple(perceptual.shape)} and {len(seeds)} seeds")
    if steps < 1 or guidance < 0 or not 0.0 <= eta <= 1.0:
        raise ValueError(f"need steps >= 1, guidance >= 0, 0 <= eta <= 1 (got {steps}, {guidance}, {eta})")
    cfg = model.cfg
    dev = next(model.parameters()).device
    sched = make_scheduler(cfg)
    sched.set_timesteps(steps)
    shape = (3, cfg.image_size, cfg.image_size)
    x = _noise(seeds, shape, 0).to(dev)  # (B, 3, H, W)
    cond = model.tokens(perceptual.to(dev).float())  # (B, N, C)
    null = model.tokens(torch.zeros_like(perceptual, device=dev).float())  # (B, N, C)
    use_cfg = guidance != 1.0
    for i, t in enumerate(sched.timesteps):
        tt = t.expand(x.shape[0]).to(dev)
        if use_cfg:
            out = model.unet(torch.cat([x, x]), torch.cat([tt, tt]), encoder_hidden_states=torch.cat([cond, null])).sample
            c, u = out.chunk(2)
            pred = u + guidance * (c - u)
        else:
            pred = model.unet(x, tt, encoder_hidden_states=cond).sample
        vn = _noise(seeds, shape, i + 1).to(dev) if eta > 0 else None
        x = sched.step(pred, t, x, eta=eta, variance_noise=vn).prev_sample
    return ((x.clamp(-1, 1) + 1) / 2).cpu()  # (B, 3, H, W)


def parameter_count(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())
