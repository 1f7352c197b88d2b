"""ComfyUI IMAGE tensors <-> DeCLIP's image layout."""
from __future__ import annotations

import torch


def comfy_image_to_bchw(image: torch.Tensor) -> torch.Tensor:
    """ComfyUI IMAGE (B, H, W, C) float in 0..1 -> (B, 3, H, W) float32 in 0..1.

    C may be 3 (RGB), 4 (RGBA: alpha dropped) or 1 (grey: repeated).
    """
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"expected an IMAGE tensor (B, H, W, C), got {type(image).__name__}")
    if image.ndim == 3:
        raise ValueError(f"expected an IMAGE batch (B, H, W, C), got a single image {tuple(image.shape)}")
    if image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an IMAGE (B, H, W, C) with C in 1, 3 or 4, got {tuple(image.shape)}")
    if image.shape[0] == 0 or image.shape[1] < 1 or image.shape[2] < 1:
        raise ValueError(f"empty IMAGE batch {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ValueError(f"expected a float IMAGE in 0..1, got dtype {image.dtype}")
    x = image[..., :3] if image.shape[-1] == 4 else image
    x = x.expand(-1, -1, -1, 3) if x.shape[-1] == 1 else x  # (B, H, W, 3)
    return x.permute(0, 3, 1, 2).float().clamp(0.0, 1.0).contiguous()  # (B, 3, H, W)
