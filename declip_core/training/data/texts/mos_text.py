"""Perceptual texts from a normalised mean opinion score (0 = worst, 1 = best)."""
from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ._grammar import check_rng, choose, with_article
from .vocab import PHOTO_NOUNS

MOS_BUCKETS: tuple[str, ...] = ("bad", "poor", "fair", "good", "excellent")
# Lower edges of buckets 1..4: equal fifths; a value on an edge goes to the upper bucket, 1.0 is excellent.
MOS_EDGES: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)

MOS_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bad": ("bad", "very poor", "terrible", "awful", "very low"),
    "poor": ("poor", "low", "subpar", "weak", "below-average"),
    "fair": ("fair", "average", "mediocre", "middling", "acceptable"),
    "good": ("good", "decent", "solid", "pleasing", "above-average"),
    "excellent": ("excellent", "superb", "outstanding", "exceptional", "first-rate"),
})
_QUALITY_NOUNS: tuple[str, ...] = ("quality", "image quality", "visual quality", "perceived quality")


def mos_bucket(norm_mos: float) -> str:
    """Bucket name of a normalised MOS in [0, 1]: bad < 0.2 <= poor < 0.4 <= fair < 0.6 <= good < 0.8 <= excellent."""
    if isinstance(norm_mos, bool) or not isinstance(norm_mos, numbers.Real):
        raise ValueError(f"normalised MOS must be a real number, got {norm_mos!r}")
    v = float(norm_mos)
    if not math.isfinite(v) or not 0.0 <= v <= 1.0:
        raise ValueError(f"normalised MOS must be in [0, 1], got {norm_mos!r}")
    return MOS_BUCKETS[bisect_right(MOS_EDGES, v)]


def perceptual_text_from_mos(norm_mos: float, rng: np.random.Generator) -> str:
    """Describe overall quality from a normalised MOS, e.g. 'a photo of fair quality'."""
    rng = check_rng(rng)
    word = choose(rng, MOS_WORDS[mos_bucket(norm_mos)])
    noun = choose(rng, PHOTO_NOUNS)
    quality = choose(rng, _QUALITY_NOUNS)
    style = int(rng.integers(6))
    if style == 0:
        return f"{word} {quality}"
    if style == 1:
        return f"{with_article(noun)} of {word} quality"
    if style == 2:
        return f"the {quality} of this {noun} is {word}"
    if style == 3:
        return f"overall {quality}: {word}"
    if style == 4:
        return with_article(f"{word}-quality {noun}")
    return f"{word} overall {quality}"
