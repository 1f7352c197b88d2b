"""Preprocessing that travels with the weights: PIL path and a differentiable tensor path."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from declip_core.io import to_rgb
from declip_core.preprocess import PreprocessConfig

_PIL_INTERP = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def _check(cfg: PreprocessConfig) -> None:
    if cfg.resize not in ("shortest", "squash"):
        raise ValueError(f"unknown resize mode {cfg.resize!r}; expected 'shortest' or 'squash'")
    if cfg.interpolation not in _PIL_INTERP:
        raise ValueError(f"unknown interpolation {cfg.interpolation!r}")


def pil_to_tensor01(img: Image.Image) -> torch.Tensor:
    """PIL image of any mode -> (3, H, W) float tensor in 0..1 (declip_core.io.to_rgb: alpha on white, ...)."""
    arr = np.asarray(to_rgb(img), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


class _Clamp01(torch.autograd.Function):
    """Forward: x.clamp(0, 1) (the same values); backward: the gradient passes unchanged (straight through)."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        return x.clamp(0.0, 1.0)

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        return grad


def clamp01(x: torch.Tensor) -> torch.Tensor:
    """Clamp to 0..1 with a straight-through gradient: pixels at (or resampled past) 0 and 1, e.g. an
    all-black image, still get the gradient of the score (torch.clamp gives them zero)."""
    return _Clamp01.apply(x)


# An intermediate larger than this many views' worth of pixels (very wide or tall images, whose short
# side is scaled to S) is never made: only the part the centre crop keeps is resized.
WINDOW_FACTOR = 4
_SUPPORT = {"bicubic": 2.0, "bilinear": 1.0}  # filter half-width in output pixels when upscaling


def _axis_window(n_in: int, n_out: int, start: int, s: int, support: float) -> tuple[int, int, int]:
    """Input slice [a, b) whose resize (same scale) holds output pixels [start, start + s) at offset j.

    a is chosen so that a * n_out / n_in is (nearly) an integer: the output grid of the slice then
    falls on the full image's grid, so the window equals that part of the full resize."""
    ratio = n_in / n_out  # input pixels per output pixel
    margin = int(np.ceil(support * max(1.0, ratio))) + 2
    a_max = max(0, int(np.floor(start * ratio)) - margin)
    step = max(1, round(n_in / np.gcd(n_in, n_out)))  # a multiple of this lands exactly on the grid
    best = a_max
    if step <= 4 * margin + 64:
        best = a_max - a_max % step
    else:  # no exact landing nearby: the closest one in a short search
        best = min(range(max(0, a_max - 256), a_max + 1), key=lambda a: (abs(a / ratio - round(a / ratio)), -a))
    b = min(n_in, int(np.ceil((start + s) * ratio)) + margin + 1)
    return best, b, start - round(best / ratio)


def _resize_window(x: torch.Tensor, out_hw: tuple[int, int], top_left: tuple[int, int], s: int,
                   mode: str) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, S, S): the S x S window at top_left of the resize to out_hw, made without
    the full-size intermediate (memory and time bounded by S, whatever the aspect ratio)."""
    (h, w), (nh, nw), (top, left) = x.shape[-2:], out_hw, top_left
    ah, bh, jh = _axis_window(h, nh, top, s, _SUPPORT[mode])
    aw, bw, jw = _axis_window(w, nw, left, s, _SUPPORT[mode])
    y = F.interpolate(x[:, :, ah:bh, aw:bw], scale_factor=(nh / h, nw / w), mode=mode, antialias=True,
                      align_corners=False, recompute_scale_factor=False)
    y = y[:, :, jh : jh + s, jw : jw + s]
    if tuple(y.shape[-2:]) != (s, s):
        raise RuntimeError(f"resize window {tuple(y.shape[-2:])} != {(s, s)} for {(h, w)} -> {(nh, nw)}")
    return y


def resize_tensor01(x: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    """(B, 3, H, W) in 0..1 -> (B, 3, S, S) in 0..1 by the config's resize rule (antialiased).

    Memory and time are bounded by S for any shape: when the resized image would be more than
    WINDOW_FACTOR x S on its long side, only the centre-crop window is resized (_resize_window).
    The final clamp keeps the gradient (clamp01)."""
    _check(cfg)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
    s = cfg.image_size
    h, w = x.shape[-2:]
    if cfg.resize == "squash":
        if (h, w) != (s, s):
            x = F.interpolate(x, size=(s, s), mode=cfg.interpolation, antialias=True, align_corners=False)
        return clamp01(x)
    scale = s / min(h, w)
    nh, nw = max(s, round(h * scale)), max(s, round(w * scale))
    top, left = (nh - s) // 2, (nw - s) // 2
    if (nh, nw) != (h, w):
        if max(nh, nw) > WINDOW_FACTOR * s:
            return clamp01(_resize_window(x, (nh, nw), (top, left), s, cfg.interpolation))
        x = F.interpolate(x, size=(nh, nw), mode=cfg.interpolation, antialias=True, align_corners=False)
    return clamp01(x[:, :, top : top + s, left : left + s])


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
    left, top = (nw - s) // 2, (nh - s) // 2
    if max(nw, nh) > WINDOW_FACTOR * s:  # very wide or tall: resize only the window the crop keeps
        box = (left * w / nw, top * h / nh, (left + s) * w / nw, (top + s) * h / nh)
        return img.resize((s, s), _PIL_INTERP[cfg.interpolation], box=box)
    img = img.resize((nw, nh), _PIL_INTERP[cfg.interpolation])
    return img.crop((left, top, left + s, top + s))


def make_pil_transform(cfg: PreprocessConfig) -> Callable[[Image.Image], torch.Tensor]:
    """PIL image -> (3, S, S) normalised tensor, the same maths as tensor_preprocess."""
    _check(cfg)

    def transform(img: Image.Image) -> torch.Tensor:
        x = pil_to_tensor01(pil_resize(to_rgb(img), cfg)).unsqueeze(0)
        return normalize01(x, cfg)[0]

    return transform
