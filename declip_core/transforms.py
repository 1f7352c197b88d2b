"""Preprocessing that travels with the weights: PIL path and a differentiable tensor path."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from declip_core.backbones.base import PreprocessConfig

_PIL_INTERP = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def _check(cfg: PreprocessConfig) -> None:
    if cfg.resize not in ("shortest", "squash"):
        raise ValueError(f"unknown resize mode {cfg.resize!r}; expected 'shortest' or 'squash'")
    if cfg.interpolation not in _PIL_INTERP:
        raise ValueError(f"unknown interpolation {cfg.interpolation!r}")


def pil_to_tensor01(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (3, H, W) float tensor in 0..1."""
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def resize_tensor01(x: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """(B, 3, H, W) in 0..1 -> (B, 3, S, S) by the config's resize rule (antialiased)."""
    _check(cfg)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
    s = cfg.image_size
    h, w = x.shape[-2:]
    if cfg.resize == "squash":
        if (h, w) != (s, s):
            x = F.interpolate(x, size=(s, s), mode=cfg.interpolation, antialias=True, align_corners=False)
        return x.clamp(0.0, 1.0)
    scale = s / min(h, w)
    nh, nw = max(s, round(h * scale)), max(s, round(w * scale))
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode=cfg.interpolation, antialias=True, align_corners=False)
    top, left = (nh - s) // 2, (nw - s) // 2
    return x[:, :, top : top + s, left : left + s].clamp(0.0, 1.0)


def normalize01(x: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """Apply mean/std normalisation to (B, 3, H, W) in 0..1."""
    mean = torch.tensor(cfg.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def tensor_preprocess(x: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """(B, 3, H, W) in 0..1 -> normalised backbone input; differentiable."""
    return normalize01(resize_tensor01(x, cfg), cfg)


def pil_resize(img: Image.Image, cfg: PreprocessConfig) -> Image.Image:
    """RGB PIL image -> S x S PIL image by the config's resize rule (squash, or shortest side + centre crop)."""
    _check(cfg)
    s = cfg.image_size
    if cfg.resize == "squash":
        return img.resize((s, s), _PIL_INTERP[cfg.interpolation], reducing_gap=None)
    w, h = img.size
    scale = s / min(w, h)
    nw, nh = max(s, round(w * scale)), max(s, round(h * scale))
    img = img.resize((nw, nh), _PIL_INTERP[cfg.interpolation])
    left, top = (nw - s) // 2, (nh - s) // 2
    return img.crop((left, top, left + s, top + s))


def make_pil_transform(cfg: PreprocessConfig) -> Callable[[Image.Image], torch.Tensor]:
    """PIL image -> (3, S, S) normalised tensor, the same maths as tensor_preprocess."""
    _check(cfg)

    def transform(img: Image.Image) -> torch.Tensor:
        x = pil_to_tensor01(pil_resize(img.convert("RGB"), cfg)).unsqueeze(0)
        return normalize01(x, cfg)[0]

    return transform
