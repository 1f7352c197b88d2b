"""Weak aesthetic negatives made offline from a good photo (deterministic per seed).

  bad_crop        off-centre crop whose edge cuts through the salient region (spectral residual
                  saliency, Hou & Zhang 2007), resized back to the input size
  tilted_horizon  rotation by 5..15 degrees (either way), cropped to the largest centred rectangle of
                  the same aspect ratio with no empty corners, resized back to the input size
  washed_out      saturation scaled to 35..60 % and blacks lifted to 12..25 % of full scale

Each output is a uint8 (H, W, 3) image of the input's size; the text comes from
`declip_core.training.data.texts.aesthetic_text(negative=name)`. These are weak negatives: plausible but mild.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from PIL import Image
from scipy import ndimage

from declip_core.training.data.texts.aesthetic import aesthetic_text

_LUMA = np.array([0.299, 0.587, 0.114])
MIN_SIDE = 16
_SALIENCY_WIDTH = 64
_MIN_CROP, _MAX_CROP = 0.45, 0.75  # crop side as a fraction of the image side
_EDGE_JITTER = 0.06  # crop edge lands within this fraction of the crop side from the salient point
TILT_RANGE_DEG = (5.0, 15.0)


@dataclass(frozen=True)
class AestheticNegative:
    """A degraded copy of a good photo, its operation name and a perceptual text; always weak."""

    image: np.ndarray
    name: str
    text: str
    weak: bool = True


def _check(img: object) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        desc = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f"expected a uint8 (H, W, 3) array, got {desc}")
    if min(img.shape[:2]) < MIN_SIDE:
        raise ValueError(f"image sides must be >= {MIN_SIDE} px, got {img.shape[:2]}")
    return img


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((width, height), Image.Resampling.BICUBIC))


def spectral_residual_saliency(img: np.ndarray) -> np.ndarray:
    """Saliency map in 0..1 of the input's size (Hou & Zhang 2007, on a 64-px-wide luma copy)."""
    h, w = _check(img).shape[:2]
    luma = Image.fromarray((img.astype(np.float64) @ _LUMA).astype(np.float32), mode="F")
    sh = max(8, round(h * _SALIENCY_WIDTH / w))
    small = np.asarray(luma.resize((_SALIENCY_WIDTH, sh), Image.Resampling.BILINEAR), dtype=np.float64)
    spec = np.fft.fft2(small)
    log_amp = np.log(np.abs(spec) + 1e-8)
    residual = log_amp - ndimage.uniform_filter(log_amp, size=3, mode="nearest")
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spec)))) ** 2
    sal = ndimage.gaussian_filter(sal, sigma=2.5)
    sal = (sal - sal.min()) / max(float(np.ptp(sal)), 1e-12)
    big = Image.fromarray(sal.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(big, dtype=np.float64), 0.0, 1.0)


def salient_point(img: np.ndarray) -> tuple[float, float]:
    """(y, x) centroid of the salient region: saliency >= 3x its mean (Hou & Zhang), else the peak."""
    sal = spectral_residual_saliency(img)
    mask = sal >= 3.0 * sal.mean()
    if not mask.any():
        y, x = np.unravel_index(int(np.argmax(sal)), sal.shape)
        return float(y), float(x)
    ys, xs = np.nonzero(mask)
    wts = sal[ys, xs]
    return float((ys * wts).sum() / wts.sum()), float((xs * wts).sum() / wts.sum())


def bad_crop_box(img: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a crop whose edge passes through the salient point."""
    h, w = _check(img).shape[:2]
    cy, cx = salient_point(img)
    # For each side: the edge coordinate along its axis and the room the crop has beyond it.
    sides = [int(s) for s in rng.permutation(4)]  # 0 left edge, 1 right edge, 2 top edge, 3 bottom edge
    want = rng.uniform(0.55, _MAX_CROP)
    jitter = rng.uniform(-_EDGE_JITTER, _EDGE_JITTER)
    for side in sides:
        horizontal = side in (0, 1)
        length, centre = (w, cx) if horizontal else (h, cy)
        room = (length - centre) if side in (0, 2) else centre
        scale = min(want, room / length)
        if scale < _MIN_CROP:
            continue
        ch, cw = max(1, round(h * scale)), max(1, round(w * scale))
        size = cw if horizontal else ch
        edge = centre + jitter * size
        raw_start = edge if side in (0, 2) else edge - size
        start = round(min(max(raw_start, 0.0), float(length - size)))
        other_len, other_c, other_size = (h, cy, ch) if horizontal else (w, cx, cw)
        lo = max(0, math.ceil(other_c - other_size + 1))
        hi = min(other_len - other_size, math.floor(other_c))
        other = int(rng.integers(lo, hi + 1)) if hi >= lo else (other_len - other_size) // 2
        return (other, start, ch, cw) if horizontal else (start, other, ch, cw)
    raise ValueError("no crop side has room")  # unreachable: the roomiest side always has >= half


def bad_crop(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Crop that cuts the salient subject, resized back to the input size."""
    top, left, ch, cw = bad_crop_box(img, rng)
    h, w = img.shape[:2]
    return _resize(np.ascontiguousarray(img[top: top + ch, left: left + cw]), w, h)


def inscribed_scale(width: int, height: int, angle_deg: float) -> float:
    """Largest k such that a centred k*width x k*height box fits inside the rotated image."""
    a = math.radians(abs(angle_deg))
    c, s = math.cos(a), math.sin(a)
    return min(width / (width * c + height * s), height / (width * s + height * c))


def tilt_angle(rng: np.random.Generator) -> float:
    """Signed tilt in degrees, |angle| in TILT_RANGE_DEG."""
    return float(rng.uniform(*TILT_RANGE_DEG)) * (1.0 if rng.random() < 0.5 else -1.0)


def tilted_horizon(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate by 5..15 degrees and crop away the empty corners, resized back to the input size."""
    h, w = _check(img).shape[:2]
    angle = tilt_angle(rng)
    rot = np.asarray(Image.fromarray(img).rotate(angle, resample=Image.Resampling.BICUBIC, expand=False))
    k = inscribed_scale(w, h, angle)
    cw, ch = max(1, math.floor(k * w) - 2), max(1, math.floor(k * h) - 2)  # 1 px margin for interpolation
    left, top = (w - cw) // 2, (h - ch) // 2
    return _resize(np.ascontiguousarray(rot[top: top + ch, left: left + cw]), w, h)


def washed_out(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lower saturation (towards luma) and lift the blacks."""
    x = _check(img).astype(np.float64) / 255.0
    sat = rng.uniform(0.35, 0.6)
    lift = rng.uniform(0.12, 0.25)
    luma = (x @ _LUMA)[..., None]
    x = luma + sat * (x - luma)
    x = lift + (1.0 - lift) * np.clip(x, 0.0, 1.0)
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


AestheticOp = Callable[[np.ndarray, np.random.Generator], np.ndarray]
AESTHETIC_NEGATIVES: Mapping[str, AestheticOp] = MappingProxyType({
    "bad_crop": bad_crop,
    "tilted_horizon": tilted_horizon,
    "washed_out": washed_out,
})


def make_aesthetic_negative(img: np.ndarray, name: str, seed: int) -> AestheticNegative:
    """Apply the named weak negative with this seed; same (img, name, seed) -> same result."""
    if name not in AESTHETIC_NEGATIVES:
        raise ValueError(f"unknown aesthetic negative {name!r}; expected one of {tuple(AESTHETIC_NEGATIVES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    op_rng, text_rng = np.random.default_rng(int(seed)).spawn(2)
    out = AESTHETIC_NEGATIVES[name](_check(img), op_rng)
    out.setflags(write=False)
    return AestheticNegative(image=out, name=name, text=aesthetic_text(text_rng, negative=name))
