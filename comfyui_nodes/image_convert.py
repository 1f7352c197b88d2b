"""ComfyUI IMAGE tensors <-> DeCLIP's image layout."""
from __future__ import annotations

import torch


def comfy_image_to_bchw(image: torch.Tensor) -> torch.Tensor:
    """ComfyUI IMAGE (B, H, W, C) in 0..1 -> (B, 3, H, W) float32 in 0..1, by DeCLIP's input contract
    (declip_core.inputs.as_images01).

    C may be 3 (RGB), 4 (RGBA: composited on white, rgb * a + (1 - a), the same rule as for image
    files) or 1 (grey: repeated). dtype float16/bfloat16/float32/float64 (0..1) or uint8 (0..255).
    Float values slightly outside 0..1 (as some upscalers give) are clamped.
    """
    from declip_core.inputs import as_images01

    if not isinstance(image, torch.Tensor):
        raise ValueError(f"expected an IMAGE tensor (B, H, W, C), got {type(image).__name__}")
    if image.ndim == 3:
        raise ValueError(f"expected an IMAGE batch (B, H, W, C), got a single image {tuple(image.shape)}")
    if image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an IMAGE (B, H, W, C) with C in 1, 3 or 4, got {tuple(image.shape)}")
    if image.shape[0] == 0:
        from .image_lists import EMPTY_HINT

        raise ValueError(f"empty IMAGE batch {tuple(image.shape)}: {EMPTY_HINT}. Lower that filter's threshold or "
                         "set its if_none_pass to 'keep the best one'")
    if image.shape[1] < 1 or image.shape[2] < 1:
        raise ValueError(f"IMAGE of zero size {tuple(image.shape)}")
    x = as_images01(image.permute(0, 3, 1, 2), name="IMAGE", allow_out_of_range=True)  # (B, 3, H, W)
    return x.clamp(0.0, 1.0).contiguous()
