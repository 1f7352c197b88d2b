"""Measured perceptual attributes of (undistorted) photos, and their bucketing into levels.

Estimators (all on the image scaled so its shorter side is at most `work_side`, area filter):
  sharpness      variance of the 3x3 Laplacian of luma (0..255 scale)              [Pech-Pacheco 2000]
  noise          Immerkaer fast noise sigma of luma (0..255 scale)                 [Immerkaer 1996]
  exposure       mean luma in 0..1 (Rec. 601 weights)
  contrast       RMS contrast: standard deviation of luma in 0..1
  colourfulness  Hasler & Suesstrunk (2003) M on 0..255 RGB

Buckets (`ATTRIBUTE_THRESHOLDS`): a value v falls in bucket i = number of thresholds <= v, so the
thresholds are the lower edges of buckets 1.. . They were set by hand from the committed sample
photos and the published scales:
  sharpness      <40 very blurry | <150 slightly blurry | <600 reasonably sharp | >=600 very sharp
  noise          <1.5 noise-free | <3 faint noise | <6 some noise | >=6 noisy
  exposure       <0.2 very dark | <0.35 dark | <0.65 balanced | <0.8 bright | >=0.8 very bright
  contrast       <0.1 very low | <0.17 low | <0.27 moderate | >=0.27 high
  colourfulness  <15 not colourful | <33 slightly | <59 moderately | <82 quite | >=82 highly
                 (Hasler & Suesstrunk's own scale: 0, 15, 33, 45, 59, 82, 109; 45 merged into 33..59)
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from PIL import Image

ATTRIBUTE_NAMES: tuple[str, ...] = ("sharpness", "noise", "exposure", "contrast", "colourfulness")

ATTRIBUTE_THRESHOLDS: Mapping[str, tuple[float, ...]] = MappingProxyType({
    "sharpness": (40.0, 150.0, 600.0),
    "noise": (1.5, 3.0, 6.0),
    "exposure": (0.2, 0.35, 0.65, 0.8),
    "contrast": (0.1, 0.17, 0.27),
    "colourfulness": (15.0, 33.0, 59.0, 82.0),
})

_LUMA = np.array([0.299, 0.587, 0.114])
_LAPLACE = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
_IMMERKAER = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


@dataclass(frozen=True)
class Attributes:
    """Measured attributes of one image (units: see module docstring)."""

    sharpness: float
    noise: float
    exposure: float
    contrast: float
    colourfulness: float

    def __post_init__(self) -> None:
        for name in ATTRIBUTE_NAMES:
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"attribute {name} must be a finite number >= 0, got {v!r}")


def check_image(img: object) -> np.ndarray:
    """Return img if it is a uint8 (H, W, 3) array with H, W >= 3, else raise ValueError."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        desc = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f"expected a uint8 (H, W, 3) array, got {desc}")
    if img.shape[0] < 3 or img.shape[1] < 3:
        raise ValueError(f"image too small to measure: {img.shape}")
    return img


def _downscale(img: np.ndarray, work_side: int | None) -> np.ndarray:
    h, w = img.shape[:2]
    if work_side is None or min(h, w) <= work_side:
        return img
    s = work_side / min(h, w)
    size = (max(3, round(w * s)), max(3, round(h * s)))
    return np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BOX))


def _filter3_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """3x3 filtering of a 2-D array without padding (output 2 px smaller per axis); numpy only."""
    h, w = x.shape
    out = np.zeros((h - 2, w - 2), dtype=np.float64)
    for i in range(3):
        for j in range(3):
            if k[i, j] != 0:
                out += k[i, j] * x[i: h - 2 + i, j: w - 2 + j]
    return out


def hasler_colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk colourfulness M of a float (H, W, 3) array on the 0..255 scale."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def immerkaer_sigma(luma: np.ndarray) -> float:
    """Immerkaer (1996) noise sigma of a float 2-D array (same scale as the input)."""
    h, w = luma.shape
    conv = _filter3_valid(luma, _IMMERKAER)
    return float(math.sqrt(math.pi / 2.0) * np.abs(conv).sum() / (6.0 * (w - 2) * (h - 2)))


def measure_attributes(img: np.ndarray, work_side: int | None = 512) -> Attributes:
    """Measure sharpness, noise, exposure, contrast and colourfulness of a uint8 RGB image."""
    if work_side is not None and (isinstance(work_side, bool) or not isinstance(work_side, int) or work_side < 3):
        raise ValueError(f"work_side must be an int >= 3 or None, got {work_side!r}")
    rgb = _downscale(check_image(img), work_side).astype(np.float64)
    luma = rgb @ _LUMA
    lap = _filter3_valid(luma, _LAPLACE)
    return Attributes(
        sharpness=float(lap.var()),
        noise=immerkaer_sigma(luma),
        exposure=float(luma.mean() / 255.0),
        contrast=float(luma.std() / 255.0),
        colourfulness=hasler_colourfulness(rgb),
    )


def bucket(name: str, value: float) -> int:
    """Bucket index of one attribute value (0 = lowest; see ATTRIBUTE_THRESHOLDS)."""
    if name not in ATTRIBUTE_THRESHOLDS:
        raise ValueError(f"unknown attribute {name!r}; expected one of {ATTRIBUTE_NAMES}")
    if not math.isfinite(value):
        raise ValueError(f"attribute {name} must be finite, got {value!r}")
    return bisect_right(ATTRIBUTE_THRESHOLDS[name], value)


def bucket_attributes(attrs: Attributes) -> Mapping[str, int]:
    """Bucket index of every attribute."""
    if not isinstance(attrs, Attributes):
        raise ValueError(f"expected Attributes, got {type(attrs).__name__}")
    return MappingProxyType({n: bucket(n, getattr(attrs, n)) for n in ATTRIBUTE_NAMES})
