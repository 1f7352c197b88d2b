"""How a quality model looks at an image: one resized view, or native-resolution crops.

Distortions live at the pixel scale: downscaling a 12-MP photo to 224 px hides blur and noise.
The I&2T training images are distorted 256-px crops seen at (almost) native scale, so the `crops`
policy scores five native-resolution `side`-px crops (four corners and the centre), each resized to
the backbone input exactly as in training, and averages their scores. Images too small for crops
(shorter side < 1.2 x side) fall back to one resized view. `resize` is one whole-image view (used for
aesthetics, where composition matters).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from declip_core.backbones.base import PreprocessConfig
from declip_core.transforms import clamp01, resize_tensor01

POLICIES = ("resize", "crops")


@dataclass(frozen=True)
class ViewPolicy:
    policy: str = "resize"
    side: int = 256
    max_side: int = 2048  # larger images are downscaled to this shorter side first (speed)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"view policy must be one of {POLICIES}, got {self.policy!r}")
        if self.side < 8 or self.max_side < self.side:
            raise ValueError(f"bad view sizes side={self.side} max_side={self.max_side}")

    def to_dict(self) -> dict:
        return asdict(self)


def n_views(h: int, w: int, vp: ViewPolicy) -> int:
    """Number of views an (h, w) image gives."""
    return 5 if vp.policy == "crops" and min(h, w) >= 1.2 * vp.side else 1


def make_views(images01: torch.Tensor, vp: ViewPolicy, cfg: PreprocessConfig) -> torch.Tensor:
    """(B, 3, H, W) in 0..1 -> (B, K, 3, S, S) in 0..1 (not normalised); differentiable."""
    if images01.ndim != 4 or images01.shape[1] != 3:
        raise ValueError(f"expected images (B, 3, H, W) in 0..1, got {tuple(images01.shape)}")
    h, w = images01.shape[-2:]
    if min(h, w) > vp.max_side:
        s = vp.max_side / min(h, w)
        images01 = torch.nn.functional.interpolate(images01, size=(max(1, round(h * s)), max(1, round(w * s))),
                                                   mode="bicubic", antialias=True, align_corners=False)
        images01 = clamp01(images01)  # straight-through: pixels at 0 and 1 keep their gradient
        h, w = images01.shape[-2:]
    if n_views(h, w, vp) == 1:
        return resize_tensor01(images01, cfg).unsqueeze(1)
    c = vp.side
    offs = [(0, 0), (0, w - c), (h - c, 0), (h - c, w - c), ((h - c) // 2, (w - c) // 2)]
    crops = [images01[:, :, t : t + c, l : l + c] for t, l in offs]
    return torch.stack([resize_tensor01(x, cfg) for x in crops], dim=1)  # (B, 5, 3, S, S)
