"""Colour family: chroma diffusion, channel shift, palette quantisation, saturation up/down."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from ._image import rgb_to_ycc, to_uint8, ycc_to_rgb
from .spec import DistortionFn, DistortionSpec, Param, levels_from


def color_diffusion(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Blur only the chroma (Cb, Cr) planes with a Gaussian of p['sigma'] pixels: colours bleed."""
    ycc = rgb_to_ycc(img)  # (H, W, 3)
    sigma = float(p["sigma"])
    ycc[..., 1:] = gaussian_filter(ycc[..., 1:], sigma=(sigma, sigma, 0.0), mode="reflect", truncate=3.0)
    return to_uint8(ycc_to_rgb(ycc))


def _shift(plane: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Translate a (H, W) plane by (dx, dy) pixels, repeating the edge into the gap."""
    h, w = plane.shape
    ys = np.clip(np.arange(h) - dy, 0, h - 1)
    xs = np.clip(np.arange(w) - dx, 0, w - 1)
    return plane[ys[:, None], xs[None, :]]  # (H, W)


def color_shift(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Channel misregistration: red moves right/down and blue left/up by p['shift'] pixels."""
    s = int(p["shift"])
    out = img.copy()  # (H, W, 3)
    out[..., 0] = _shift(img[..., 0], s, s // 2)
    out[..., 2] = _shift(img[..., 2], -s, -(s // 2))
    return out


def color_quantization(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Reduce the image to a p['colors']-entry median-cut palette, no dithering."""
    pil = Image.fromarray(img).quantize(
        colors=int(p["colors"]), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    return np.asarray(pil.convert("RGB"))  # (H, W, 3)


def _scale_chroma(img: np.ndarray, factor: float) -> np.ndarray:
    """Multiply chroma (Cb, Cr distance from grey) by factor, keeping luma; clip to gamut."""
    ycc = rgb_to_ycc(img)  # (H, W, 3)
    ycc[..., 1:] = (ycc[..., 1:] - 128.0) * factor + 128.0
    return to_uint8(ycc_to_rgb(ycc))


def saturate_up(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Over-saturation: chroma multiplied by p['factor'] > 1 (clips at the gamut edge)."""
    return _scale_chroma(img, float(p["factor"]))


def saturate_down(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Desaturation: chroma multiplied by p['factor'] < 1 (0 = greyscale)."""
    return _scale_chroma(img, float(p["factor"]))


ENTRIES: tuple[tuple[DistortionSpec, DistortionFn], ...] = (
    (
        DistortionSpec(
            "color_diffusion", "color", "colour", "",
            levels_from(sigma=(2.0, 4.0, 7.0, 11.0, 18.0)),
            "Colour bleeding: Gaussian blur of the Cb/Cr chroma planes only; sigma in pixels.",
        ),
        color_diffusion,
    ),
    (
        DistortionSpec(
            "color_shift", "color", "colour", "",
            levels_from(shift=(1, 2, 3, 4, 6)),
            "Channel misregistration: R shifted by (+shift, +shift//2), B by (-shift, -shift//2) pixels.",
        ),
        color_shift,
    ),
    (
        DistortionSpec(
            "color_quantization", "color", "colour", "",
            levels_from(colors=(128, 64, 32, 12, 5)),
            "Palette reduction: median-cut palette with this many colours, no dithering (banding).",
        ),
        color_quantization,
    ),
    (
        DistortionSpec(
            "saturate_up", "color", "colour", "over",
            levels_from(factor=(1.3, 1.6, 2.0, 2.6, 3.4)),
            "Over-saturation: chroma scaled by factor at constant luma, clipped to the RGB gamut.",
        ),
        saturate_up,
    ),
    (
        DistortionSpec(
            "saturate_down", "color", "colour", "under",
            levels_from(factor=(0.7, 0.5, 0.3, 0.15, 0.0)),
            "Desaturation: chroma scaled by factor at constant luma (factor 0 = greyscale).",
        ),
        saturate_down,
    ),
)
