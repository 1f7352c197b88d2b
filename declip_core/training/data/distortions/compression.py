"""Compression family: JPEG and JPEG 2000 (WebP where Pillow lacks OpenJPEG)."""
from __future__ import annotations

import io
import math
from collections.abc import Mapping

import numpy as np
from PIL import Image, features

from .spec import DistortionFn, DistortionSpec, Param, levels_from

HAS_JPEG2000: bool = bool(features.check("jpg_2000"))


def _roundtrip(pil: Image.Image, fmt: str, **kwargs: object) -> np.ndarray:
    """Encode to an in-memory file and decode back to uint8 (H, W, 3)."""
    buf = io.BytesIO()
    pil.save(buf, format=fmt, **kwargs)
    buf.seek(0)
    with Image.open(buf) as dec:
        return np.asarray(dec.convert("RGB"))


def jpeg(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """Baseline JPEG at quality p['quality'] with 4:2:0 chroma subsampling."""
    return _roundtrip(Image.fromarray(img), "JPEG", quality=int(p["quality"]), subsampling=2)


def jpeg2000(img: np.ndarray, p: Mapping[str, Param], rng: np.random.Generator) -> np.ndarray:
    """JPEG 2000 at compression ratio p['rate'] (codec 'jpeg2000'), or WebP at p['quality'] ('webp')."""
    pil = Image.fromarray(img)
    if p["codec"] == "jpeg2000":
        # OpenJPEG needs each side >= 2**(resolutions - 1)
        res = max(1, min(6, int(math.log2(min(img.shape[:2]))) + 1))
        return _roundtrip(
            pil, "JPEG2000", quality_mode="rates", quality_layers=[float(p["rate"])], num_resolutions=res
        )
    if p["codec"] == "webp":
        return _roundtrip(pil, "WEBP", quality=int(p["quality"]), method=4)
    raise ValueError(f"unknown jpeg2000 codec {p['codec']!r}")


_J2K_LEVELS = (
    levels_from(codec=("jpeg2000",) * 5, rate=(15.0, 30.0, 60.0, 120.0, 250.0))
    if HAS_JPEG2000
    else levels_from(codec=("webp",) * 5, quality=(40, 20, 10, 4, 0))
)

ENTRIES: tuple[tuple[DistortionSpec, DistortionFn], ...] = (
    (
        DistortionSpec(
            "jpeg2000", "compression", "compression", "",
            _J2K_LEVELS,
            "Wavelet compression (ringing, blur): Pillow JPEG 2000 at compression ratio 'rate'; "
            "falls back to WebP 'quality' where Pillow lacks OpenJPEG ('codec' says which).",
        ),
        jpeg2000,
    ),
    (
        DistortionSpec(
            "jpeg", "compression", "compression", "",
            levels_from(quality=(40, 25, 15, 9, 5)),
            "JPEG blocking and ringing: Pillow quality 1..95, 4:2:0 chroma subsampling.",
        ),
        jpeg,
    ),
)
