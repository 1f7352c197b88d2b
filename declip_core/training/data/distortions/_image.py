"""Shared array helpers: validation, float/uint8 conversion, colour transforms, seeding."""
from __future__ import annotations

import zlib

import numpy as np
from scipy.signal import fftconvolve

MIN_SIDE = 8


def frozen(a: np.ndarray) -> np.ndarray:
    """Mark a module-level constant array read-only and return it."""
    a.flags.writeable = False
    return a


# BT.601 full-range (JPEG) RGB -> YCbCr, applied to 0..255 floats.
_RGB2YCC = frozen(np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
    dtype=np.float32,
))
_YCC2RGB = frozen(np.linalg.inv(_RGB2YCC.astype(np.float64)).astype(np.float32))
_CHROMA_OFFSET = frozen(np.array([0.0, 128.0, 128.0], dtype=np.float32))


def check_image(img: object) -> np.ndarray:
    """Validate a uint8 (H, W, 3) RGB image and return it C-contiguous."""
    if not isinstance(img, np.ndarray):
        raise ValueError(f"expected a numpy uint8 (H, W, 3) array, got {type(img).__name__}")
    if img.ndim == 2:
        raise ValueError(
            f"got a 2-D (grayscale) image of shape {img.shape}; distortions need RGB uint8 (H, W, 3) -- "
            "convert first, e.g. np.stack([g, g, g], axis=-1) or PIL .convert('RGB')"
        )
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got shape {img.shape}")
    if img.dtype != np.uint8:
        raise ValueError(f"expected dtype uint8, got {img.dtype}")
    if min(img.shape[:2]) < MIN_SIDE:
        raise ValueError(f"image sides must be >= {MIN_SIDE} pixels, got {img.shape[:2]}")
    return np.ascontiguousarray(img)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Round and clip a float array in 0..255 to uint8."""
    out = np.rint(x)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def rgb_to_ycc(img: np.ndarray) -> np.ndarray:
    """uint8/float (H, W, 3) RGB -> float32 (H, W, 3) YCbCr, 0..255 with chroma centred on 128."""
    return img.astype(np.float32) @ _RGB2YCC.T + _CHROMA_OFFSET


def ycc_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """float32 (H, W, 3) YCbCr -> float32 (H, W, 3) RGB in 0..255 (not clipped)."""
    return (ycc - _CHROMA_OFFSET) @ _YCC2RGB.T


def luma(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB -> float32 (H, W) BT.601 luma."""
    return img.astype(np.float32) @ _RGB2YCC[0]


def apply_lut(img: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map uint8 (H, W, 3) through a 256-entry table (float values are rounded and clipped)."""
    if lut.shape != (256,):
        raise ValueError(f"LUT must have 256 entries, got shape {lut.shape}")
    return to_uint8(lut)[img]


def convolve_rgb(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve each channel of (H, W, 3) with a (k, k) kernel, odd k, reflect-padded; float32 out."""
    kh, kw = kernel.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel sides must be odd, got {kernel.shape}")
    ph, pw = kh // 2, kw // 2
    padded = np.pad(img.astype(np.float32), ((ph, ph), (pw, pw), (0, 0)), mode="reflect")  # (H+2ph, W+2pw, 3)
    out = fftconvolve(padded, kernel.astype(np.float32)[:, :, None], mode="valid", axes=(0, 1))
    return out.astype(np.float32)  # (H, W, 3)


def make_rng(seed: int, name: str) -> np.random.Generator:
    """Generator seeded by (seed, type name) so chain steps get independent streams."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode("utf-8"))]))
