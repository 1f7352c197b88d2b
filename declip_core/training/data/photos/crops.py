"""Non-overlapping square crops of a photo at native and reduced scales, and the split by photo.

Scales: 2**(-k/4) for k = 0, 1, ... while the scaled shorter side is >= CROP px, plus the whole-image
view (shorter side scaled to CROP px, centred). At each scale the photo is resized (Lanczos) and cut
into a centred grid of CROP x CROP cells, which never overlap; cells are taken from the scales in
turn (round robin, a seeded shuffle within each scale) until the photo's quota is reached. Cells with
almost no content (greyscale std < MIN_STD on 0..255: clear sky, black borders) are skipped.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

CROP = 256
MIN_STD = 3.0


@dataclass(frozen=True)
class CropBox:
    scale: float  # resize factor applied to the photo before cutting (1.0 = native)
    left: int  # in the resized photo
    top: int
    size: int = CROP

    @property
    def tag(self) -> str:
        return f"s{self.scale:.3f}_x{self.left}_y{self.top}"


def scales_for(w: int, h: int, crop: int = CROP) -> list[float]:
    short = min(w, h)
    out: list[float] = []
    k = 0
    while short * 2 ** (-k / 4) >= crop:
        out.append(2 ** (-k / 4))
        k += 1
    whole = crop / short
    if not out or abs(out[-1] - whole) / whole > 0.05:
        out.append(whole)
    return out


def _resized(img: np.ndarray, s: float) -> np.ndarray:
    if s == 1.0:
        return img
    h, w = img.shape[:2]
    return np.asarray(Image.fromarray(img).resize((max(CROP, round(w * s)), max(CROP, round(h * s))),
                                                  Image.Resampling.LANCZOS))


def plan_crops(img: np.ndarray, quota: int, seed: int) -> list[tuple[CropBox, np.ndarray]]:
    """Up to `quota` (box, uint8 (CROP, CROP, 3) crop) pairs of a uint8 (H, W, 3) photo."""
    h, w = img.shape[:2]
    rng = np.random.default_rng(seed)
    per_scale: list[list[tuple[CropBox, np.ndarray]]] = []
    for s in scales_for(w, h):
        im = _resized(img, s)
        H, W = im.shape[:2]
        nx, ny = W // CROP, H // CROP
        ox, oy = (W - nx * CROP) // 2, (H - ny * CROP) // 2
        cells = [(ox + i * CROP, oy + j * CROP) for j in range(ny) for i in range(nx)]
        order = rng.permutation(len(cells))
        got = []
        for idx in order:
            x, y = cells[idx]
            c = im[y : y + CROP, x : x + CROP]
            if c.astype(np.float32).mean(axis=2).std() < MIN_STD:
                continue
            got.append((CropBox(round(s, 4), x, y), np.ascontiguousarray(c)))
        per_scale.append(got)
    out: list[tuple[CropBox, np.ndarray]] = []
    while len(out) < quota and any(per_scale):
        for lst in per_scale:
            if lst and len(out) < quota:
                out.append(lst.pop(0))
    return out


def assign_splits(photo_ids: list[str], forced_test: set[str], fractions: tuple[float, float] = (0.7, 0.1),
                  salt: str = "declip-photos-v1") -> dict[str, str]:
    """{photo id: 'train' | 'val' | 'test'}, by whole photo. Photos are ordered by sha256(salt + id);
    `forced_test` ids go to test first, then test is filled to 1 - train - val of all photos, val
    takes the next `fractions[1]`, the rest is train. Deterministic and independent of input order."""
    n = len(photo_ids)
    order = sorted(photo_ids, key=lambda p: hashlib.sha256((salt + p).encode()).hexdigest())
    n_test = max(len(forced_test & set(photo_ids)), round(n * (1 - sum(fractions))))
    n_val = round(n * fractions[1])
    split: dict[str, str] = {p: "test" for p in order if p in forced_test}
    rest = [p for p in order if p not in split]
    for p in rest:
        if sum(v == "test" for v in split.values()) < n_test:
            split[p] = "test"
        elif sum(v == "val" for v in split.values()) < n_val:
            split[p] = "val"
        else:
            split[p] = "train"
    return split
