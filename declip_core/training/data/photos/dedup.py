"""Near-duplicate photos: a 64-bit difference hash (dHash) of the greyscale image plus the aspect ratio.

Two photos are near-duplicates when their hashes differ in at most MAX_HAMMING bits and their aspect
ratios within MAX_ASPECT (relative): the same picture at another resolution, re-encoded, or copied into
two packages. Of a group, the one with the most pixels is kept (ties: the first in package order).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

MAX_HAMMING = 6
MAX_ASPECT = 0.03


def dhash(img: np.ndarray, size: int = 8) -> int:
    """64-bit difference hash of a uint8 (H, W, 3) image: sign of horizontal neighbour differences of
    a (size, size + 1) greyscale thumbnail."""
    g = np.asarray(Image.fromarray(img).convert("L").resize((size + 1, size), Image.Resampling.BOX), np.int16)
    bits = (g[:, 1:] > g[:, :-1]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def is_near_duplicate(h1: int, size1: tuple[int, int], h2: int, size2: tuple[int, int]) -> bool:
    """Same picture? `size` is (width, height)."""
    a1, a2 = size1[0] / size1[1], size2[0] / size2[1]
    return hamming(h1, h2) <= MAX_HAMMING and abs(a1 - a2) / max(a1, a2) <= MAX_ASPECT


def group_duplicates(items: list[tuple[str, int, tuple[int, int]]]) -> dict[str, str]:
    """items: (key, dhash, (w, h)) in priority order. Returns {dropped key: kept key} where the kept
    one has the most pixels in its group (first on ties)."""
    kept: list[tuple[str, int, tuple[int, int]]] = []
    dropped: dict[str, str] = {}
    for key, h, size in items:
        match = next((i for i, (_, kh, ks) in enumerate(kept) if is_near_duplicate(h, size, kh, ks)), None)
        if match is None:
            kept.append((key, h, size))
            continue
        k_key, _, k_size = kept[match]
        if size[0] * size[1] > k_size[0] * k_size[1]:
            kept[match] = (key, h, size)
            dropped = {d: (key if v == k_key else v) for d, v in dropped.items()}
            dropped[k_key] = key
        else:
            dropped[key] = k_key
    return dropped
