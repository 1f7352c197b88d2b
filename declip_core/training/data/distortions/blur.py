"""Blur family: Gaussian, lens (defocus disk) and motion blur."""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageFilter

from ._image import convolve_rgb, to_uint8
from .spec import DistortionFn, DistortionSpec, Param, levels_from


def gaussian_blur(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Isotropic Gaussian blur of standard deviation p['sigma'] pixels (Pillow)."""
    out = Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius=float(p["sigma"])))
    return np.asarray(out)  # (H, W, 3)


def disk_kernel(radius: float) -> np.ndarray:
    """Anti-aliased normalised disk of the given radius, (2r+1, 2r+1) float32."""
    r = math.ceil(radius)
    sub = 4  # 4x4 supersampling of each kernel cell
    offs = (np.arange(sub) + 0.5) / sub - 0.5
    grid = np.arange(-r, r + 1)
    yy = (grid[:, None, None, None] + offs[None, None, :, None]) ** 2  # (k, 1, sub, 1)
    xx = (grid[None, :, None, None] + offs[None, None, None, :]) ** 2  # (1, k, 1, sub)
    k = ((yy + xx) <= radius**2).mean(axis=(2, 3)).astype(np.float32)  # (k, k)
    return k / k.sum()


def lens_blur(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Defocus blur: convolution with a uniform disk of radius p['radius'] pixels."""
    out = convolve_rgb(img, disk_kernel(float(p["radius"])))  # (H, W, 3)
    return to_uint8(out)


def line_kernel(length: float, angle_deg: float) -> np.ndarray:
    """Anti-aliased normalised line of the given length and angle, (k, k) float32 with odd k."""
    half = (length - 1.0) / 2.0
    r = math.ceil(half) + 1
    t = np.linspace(-half, half, max(2, int(length * 16)))
    theta = math.radians(angle_deg)
    xs, ys = t * math.cos(theta) + r, -t * math.sin(theta) + r  # sub-pixel positions in the kernel
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    k = np.zeros((2 * r + 2, 2 * r + 2), dtype=np.float64)
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(k, (y0 + dy, x0 + dx), w)  # bilinear splat
    k = k[: 2 * r + 1, : 2 * r + 1]
    return (k / k.sum()).astype(np.float32)


def motion_blur(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Linear motion blur of p['length'] pixels at a seed-drawn angle in [0, 180) degrees."""
    angle = float(rng.uniform(0.0, 180.0))
    out = convolve_rgb(img, line_kernel(float(p["length"]), angle))  # (H, W, 3)
    return to_uint8(out)


ENTRIES: tuple[tuple[DistortionSpec, DistortionFn], ...] = (
    (
        DistortionSpec(
            "gaussian_blur", "blur", "sharpness", "",
            levels_from(sigma=(0.6, 1.1, 1.8, 3.0, 5.0)),
            "Gaussian low-pass blur; sigma in pixels.",
        ),
        gaussian_blur,
    ),
    (
        DistortionSpec(
            "lens_blur", "blur", "sharpness", "",
            levels_from(radius=(1.0, 2.0, 3.0, 5.0, 8.0)),
            "Out-of-focus blur: uniform disk kernel (anti-aliased); radius in pixels.",
        ),
        lens_blur,
    ),
    (
        DistortionSpec(
            "motion_blur", "blur", "sharpness", "",
            levels_from(length=(3.0, 6.0, 10.0, 16.0, 26.0)),
            "Camera-shake blur: anti-aliased line kernel; length in pixels, angle drawn from the seed.",
            stochastic=True,
        ),
        motion_blur,
    ),
)
