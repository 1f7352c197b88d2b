"""Noise family: white, chroma, impulse, multiplicative noise and denoising artefacts."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageFilter

from ._image import luma, rgb_to_ycc, to_uint8, ycc_to_rgb
from .spec import DistortionFn, DistortionSpec, Param, levels_from


def white_noise(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Additive i.i.d. Gaussian noise, independent per RGB channel, std p['sigma'] (0..255 scale)."""
    noise = rng.standard_normal(img.shape, dtype=np.float32)  # (H, W, 3)
    return to_uint8(img.astype(np.float32) + float(p["sigma"]) * noise)


def white_noise_color(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise in the chroma planes (Cb, Cr) only, std p['sigma']: colour blotches, clean luma."""
    ycc = rgb_to_ycc(img)  # (H, W, 3)
    ycc[..., 1:] += float(p["sigma"]) * rng.standard_normal((*img.shape[:2], 2), dtype=np.float32)
    return to_uint8(ycc_to_rgb(ycc))


def impulse_noise(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Salt-and-pepper: a fraction p['density'] of pixels set to black or white (half each)."""
    u = rng.random(img.shape[:2], dtype=np.float32)  # (H, W)
    d = float(p["density"])
    out = img.copy()
    out[u < d / 2] = 0
    out[(u >= d / 2) & (u < d)] = 255
    return out


def multiplicative_noise(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Speckle: x * (1 + n), n ~ N(0, p['sigma']) per pixel and channel."""
    n = rng.standard_normal(img.shape, dtype=np.float32)  # (H, W, 3)
    return to_uint8(img.astype(np.float32) * (1.0 + float(p["sigma"]) * n))


def denoise(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Denoiser artefacts: Gaussian noise of std p['sigma'], then edge-aware smoothing -- a Gaussian of
    p['smooth'] pixels in flat areas, blended back to the noisy input where the smoothed luma gradient
    exceeds p['edge'] grey levels per pixel (waxy flats, noisy halos along edges)."""
    noisy = white_noise(img, p, rng).astype(np.float32)  # (H, W, 3)
    smooth = np.asarray(
        Image.fromarray(to_uint8(noisy)).filter(ImageFilter.GaussianBlur(radius=float(p["smooth"])))
    ).astype(np.float32)  # (H, W, 3)
    gy, gx = np.gradient(luma(smooth))  # (H, W) each
    keep = np.clip(np.hypot(gx, gy) / float(p["edge"]), 0.0, 1.0)[..., None]  # (H, W, 1)
    return to_uint8(smooth + keep * (noisy - smooth))


ENTRIES: tuple[tuple[DistortionSpec, DistortionFn], ...] = (
    (
        DistortionSpec(
            "white_noise", "noise", "noise", "",
            levels_from(sigma=(4.0, 8.0, 14.0, 22.0, 35.0)),
            "Additive white Gaussian noise per RGB channel; sigma on the 0..255 scale.",
            stochastic=True,
        ),
        white_noise,
    ),
    (
        DistortionSpec(
            "white_noise_color", "noise", "noise", "",
            levels_from(sigma=(6.0, 12.0, 20.0, 32.0, 50.0)),
            "White Gaussian noise in the Cb/Cr chroma planes only (colour noise); sigma on 0..255.",
            stochastic=True,
        ),
        white_noise_color,
    ),
    (
        DistortionSpec(
            "impulse_noise", "noise", "noise", "",
            levels_from(density=(0.005, 0.015, 0.035, 0.07, 0.14)),
            "Salt-and-pepper noise; density = fraction of pixels forced to black or white.",
            stochastic=True,
        ),
        impulse_noise,
    ),
    (
        DistortionSpec(
            "multiplicative_noise", "noise", "noise", "",
            levels_from(sigma=(0.04, 0.08, 0.14, 0.22, 0.35)),
            "Speckle noise x * (1 + n), n ~ N(0, sigma), per pixel and channel.",
            stochastic=True,
        ),
        multiplicative_noise,
    ),
    (
        DistortionSpec(
            "denoise", "noise", "artifacts", "",
            levels_from(
                sigma=(6.0, 12.0, 20.0, 30.0, 45.0), smooth=(0.7, 1.2, 1.8, 2.6, 3.6), edge=(40.0,) * 5
            ),
            "Denoiser artefacts: Gaussian noise (sigma), then Gaussian smoothing (smooth px) that keeps the "
            "noise where the luma gradient nears 'edge' grey levels/px (waxy flats, noisy edges).",
            stochastic=True,
        ),
        denoise,
    ),
)
