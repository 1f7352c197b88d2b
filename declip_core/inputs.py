"""The input contract: what every entry point accepts as image pixels, converted in one place.

    as_images01(x, name="images") -> (B, 3, H, W) float32 in 0..1

Accepted (see docs/pyiqa.md, "The input contract"):

- shape (B, C, H, W) or (C, H, W) (a batch of one), channels first, H, W >= 1, B >= 1;
- C = 3 (RGB), 1 (grey, repeated to RGB) or 4 (RGBA: composited on white,
  rgb * alpha + (1 - alpha), the same rule as for decoded files in declip_core.io);
- dtype uint8 (0..255, divided by 255), float16, bfloat16, float32, float64 (cast to float32);
  any other dtype (bool, integer types other than uint8, complex) is a ValueError;
- value range 0..1 for floats. Beyond RANGE_TOL outside it is a ValueError naming the observed
  min and max (a 0..255 or -1..1 tensor scores wrongly, without any other sign). With
  allow_out_of_range=True (pyiqa's `as_loss=True` convention, where optimisers and pyiqa's own
  tests pass torch.randn) finite values are passed on unchanged; the preprocessing then clamps them
  (declip_core.transforms.clamp01, which keeps the gradient).

The conversion is differentiable for float inputs (the cast and the alpha composite).
"""
from __future__ import annotations

import torch

RANGE_TOL = 1e-3  # float16 rounds 1.0 +- 1e-3; a 0..255 or -1..1 image is far outside
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def composite_alpha(rgba: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) in 0..1 -> (B, 3, H, W): RGB over a white background, rgb * a + (1 - a)."""
    rgb, a = rgba[:, :3], rgba[:, 3:4]
    return rgb * a + (1.0 - a)


def value_range(x: torch.Tensor) -> tuple[float, float]:
    """(min, max) of a tensor as Python floats (NaN propagates)."""
    d = x.detach()
    return float(d.amin()), float(d.amax())


def other_scale(x: torch.Tensor) -> str | None:
    """A name for the scale a float tensor is clearly on when it is not 0..1, else None.

    '0..255' when max > 10; '-1..1' when min < -0.5 and max <= 1 (torch.randn, whose max is
    above 1 at any usual size, is neither)."""
    lo, hi = value_range(x)
    if hi > 10.0:
        return "0..255"
    if lo < -0.5 and hi <= 1.0 + RANGE_TOL:
        return "-1..1"
    return None


def as_images01(x: torch.Tensor, *, name: str = "images", allow_out_of_range: bool = False) -> torch.Tensor:
    """Image pixels by the input contract -> (B, 3, H, W) float32 (in 0..1 unless allow_out_of_range).

    name: how the error messages call the input (e.g. 'pyiqa declip_tech input').
    Raises ValueError for a non-tensor, a wrong shape or channel count, an unsupported dtype, NaN or
    infinite values (always), or (unless allow_out_of_range) float values outside 0..1 by more than RANGE_TOL.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor (B, C, H, W) with C in 1, 3, 4, got {type(x).__name__}"
                         " (for a numpy HWC array: torch.from_numpy(a).permute(2, 0, 1))")
    shape = tuple(x.shape)
    if x.ndim == 3:
        x = x.unsqueeze(0)  # (C, H, W) -> (1, C, H, W)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected shape (B, C, H, W) or (C, H, W), got {shape}")
    if x.shape[1] not in (1, 3, 4):
        hint = " (channels last? use x.permute(0, 3, 1, 2))" if x.shape[-1] in (1, 3, 4) else ""
        raise ValueError(f"{name}: expected 1, 3 or 4 channels in dim 1 of (B, C, H, W), got {shape}{hint}")
    if min(x.shape[0], x.shape[2], x.shape[3]) < 1:
        raise ValueError(f"{name}: empty image batch {shape}")
    if x.dtype == torch.uint8:
        x = x.float().div(255.0)
    elif x.dtype in FLOAT_DTYPES:
        x = x.float()
        finite = torch.isfinite(x.detach())
        if not bool(finite.all()):  # also under allow_out_of_range: NaN/Inf would give a NaN score and gradient
            nan = int(torch.isnan(x.detach()).sum())
            raise ValueError(f"{name}: non-finite pixel values ({nan} nan, {int((~finite).sum()) - nan} inf); "
                             "images must be finite")
        if not allow_out_of_range:
            lo, hi = value_range(x)
            if not (lo >= -RANGE_TOL and hi <= 1.0 + RANGE_TOL):  # also catches NaN
                scale = other_scale(x)
                raise ValueError(f"{name}: pixel values must be in 0..1 (float) or 0..255 (uint8); got float values "
                                 f"from min {lo:.4g} to max {hi:.4g}"
                                 + (f" (looks like {scale}: convert to 0..1 first)" if scale else ""))
    else:
        raise ValueError(f"{name}: unsupported dtype {x.dtype}; expected uint8 (0..255) or float16, bfloat16, "
                         "float32, float64 (0..1)")
    if x.shape[1] == 4:
        x = composite_alpha(x)
    elif x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x  # (B, 3, H, W) float32
