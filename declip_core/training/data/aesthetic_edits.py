"""Graded aesthetic edits of a good photograph: the self-supervised aesthetic ranking signal of `declip_aes`.

No human aesthetic ratings exist on these machines. The field learned aesthetics without ratings from
pretext pairs: a professional framing beats crops of it (View Finding Network, Chen et al. 2017), crops,
rotations and colour or lighting edits lower aesthetics (Sheng et al., AAAI 2020), and heavy technical damage
lowers AVA scores. Each edit here degrades one aesthetic *group* of a curated photograph, at strength 1..3
(stronger = worse), so a head learns `original > edit` and, within an edit, `strength s > strength s + 1`.

    group          edit                what it does (strength 1 / 2 / 3)
    composition   crop_corner         crop of 80 / 65 / 50 % of each side pushed into a corner, resized back
                  crop_cut_subject    crop of 80 / 65 / 50 % whose edge passes through the salient point
                                      (spectral-residual saliency, Hou & Zhang 2007), resized back
                  tilt                rotation by 3 / 7 / 12 degrees (either way), inscribed crop, resized back
                  aspect_stretch      content stretched 1.15 / 1.35 / 1.6 x along one axis, centre crop
                  border              content shrunk to 90 / 80 / 65 % on a flat frame (black, white or grey)
                  empty_space         content shrunk to 85 / 70 / 55 % and pushed to one side; the rest flat,
                                      in the image's own edge colour
    lighting      flat_contrast       contrast around the mean scaled to 75 / 55 / 35 %
                  harsh_contrast      contrast scaled 1.4 / 1.8 / 2.4 x about the mean, clipped
                  clipped_highlights  exposure x 1.4 / 1.8 / 2.4, clipped (blown highlights)
                  underexposed        gamma 1.5 / 2.0 / 2.7 (dark, blocked shadows)
    colour_harmony washed_out         saturation 70 / 50 / 30 %, blacks lifted 8 / 16 / 25 %
                  colour_cast         a tint of a seeded hue, 8 / 16 / 28 % strength
                  oversaturated       saturation 1.6 / 2.2 / 3.0 x, clipped

Every edit maps a uint8 (H, W, 3) RGB array to a new uint8 array of the same shape; the same (image, edit,
strength, seed) always gives the same output.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from PIL import Image

from declip_core.constants import AES_ATTRIBUTES
from declip_core.training.data.aesthetic_ops import _check, _resize, inscribed_scale, salient_point

STRENGTHS = (1, 2, 3)
GROUPS = AES_ATTRIBUTES  # the aesthetic attributes of declip_aes (AADB names): one group of edits each
_LUMA = np.array([0.299, 0.587, 0.114])


def _crop_resize(img: np.ndarray, top: int, left: int, ch: int, cw: int) -> np.ndarray:
    h, w = img.shape[:2]
    return _resize(np.ascontiguousarray(img[top: top + ch, left: left + cw]), w, h)


def _to01(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) / 255.0


def _to8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def crop_corner(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    k = (0.8, 0.65, 0.5)[s - 1]
    ch, cw = max(1, round(h * k)), max(1, round(w * k))
    corner = int(rng.integers(4))
    top = 0 if corner < 2 else h - ch
    left = 0 if corner % 2 == 0 else w - cw
    return _crop_resize(img, top, left, ch, cw)


def crop_cut_subject(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    k = (0.8, 0.65, 0.5)[s - 1]
    ch, cw = max(1, round(h * k)), max(1, round(w * k))
    cy, cx = salient_point(img)
    # the crop edge (a random side) goes through the salient point, clamped into the image
    side = int(rng.integers(4))
    if side == 0:  # left edge at cx
        left, top = cx, cy - ch / 2
    elif side == 1:  # right edge at cx
        left, top = cx - cw, cy - ch / 2
    elif side == 2:  # top edge at cy
        left, top = cx - cw / 2, cy
    else:  # bottom edge at cy
        left, top = cx - cw / 2, cy - ch
    top = int(round(min(max(top, 0.0), h - ch)))
    left = int(round(min(max(left, 0.0), w - cw)))
    return _crop_resize(img, top, left, ch, cw)


def tilt(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    angle = (3.0, 7.0, 12.0)[s - 1] * (1.0 if rng.random() < 0.5 else -1.0)
    rot = np.asarray(Image.fromarray(img).rotate(angle, resample=Image.Resampling.BICUBIC, expand=False))
    k = inscribed_scale(w, h, angle)
    cw, ch = max(1, math.floor(k * w) - 2), max(1, math.floor(k * h) - 2)
    return _crop_resize(rot, (h - ch) // 2, (w - cw) // 2, ch, cw)


def aspect_stretch(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    f = (1.15, 1.35, 1.6)[s - 1]
    if rng.random() < 0.5:
        big = _resize(img, max(w, round(w * f)), h)
        left = (big.shape[1] - w) // 2
        return np.ascontiguousarray(big[:, left: left + w])
    big = _resize(img, w, max(h, round(h * f)))
    top = (big.shape[0] - h) // 2
    return np.ascontiguousarray(big[top: top + h])


def _paste(img: np.ndarray, k: float, colour: np.ndarray, where: str) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = max(1, round(h * k)), max(1, round(w * k))
    small = _resize(img, cw, ch)
    out = np.empty_like(img)
    out[:] = colour.astype(np.uint8)
    if where == "centre":
        top, left = (h - ch) // 2, (w - cw) // 2
    else:
        top = {"top": 0, "bottom": h - ch}.get(where, (h - ch) // 2)
        left = {"left": 0, "right": w - cw}.get(where, (w - cw) // 2)
    out[top: top + ch, left: left + cw] = small
    return out


def border(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    k = (0.9, 0.8, 0.65)[s - 1]
    colour = np.full(3, (0, 255, 128)[int(rng.integers(3))])
    return _paste(img, k, colour, "centre")


def empty_space(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    k = (0.85, 0.7, 0.55)[s - 1]
    edge = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).mean(0)  # (3,) mean edge colour
    where = ("left", "right", "top", "bottom")[int(rng.integers(4))]
    return _paste(img, k, np.round(edge), where)


def flat_contrast(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    x = _to01(img)
    m = x.mean()
    return _to8(m + (0.75, 0.55, 0.35)[s - 1] * (x - m))


def harsh_contrast(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    x = _to01(img)
    m = x.mean()
    return _to8(m + (1.4, 1.8, 2.4)[s - 1] * (x - m))


def clipped_highlights(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    return _to8(_to01(img) * (1.4, 1.8, 2.4)[s - 1])


def underexposed(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    return _to8(_to01(img) ** (1.5, 2.0, 2.7)[s - 1])


def _saturation(x: np.ndarray, k: float) -> np.ndarray:
    luma = (x @ _LUMA)[..., None]
    return luma + k * (x - luma)


def washed_out(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    lift = (0.08, 0.16, 0.25)[s - 1]
    x = np.clip(_saturation(_to01(img), (0.7, 0.5, 0.3)[s - 1]), 0.0, 1.0)
    return _to8(lift + (1.0 - lift) * x)


def colour_cast(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    hue = rng.uniform(0.0, 2 * math.pi)
    tint = 0.5 + 0.5 * np.array([math.cos(hue), math.cos(hue - 2 * math.pi / 3), math.cos(hue + 2 * math.pi / 3)])
    a = (0.08, 0.16, 0.28)[s - 1]
    x = _to01(img)
    return _to8(x * (1 - a) + a * tint * x.mean(axis=2, keepdims=True) * 2)


def oversaturated(img: np.ndarray, s: int, rng: np.random.Generator) -> np.ndarray:
    return _to8(_saturation(_to01(img), (1.6, 2.2, 3.0)[s - 1]))


EditFn = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class AestheticEdit:
    """One graded edit: its name, the aesthetic group it degrades, and fn(img, strength, rng)."""

    name: str
    group: str
    fn: EditFn


def _registry() -> Mapping[str, AestheticEdit]:
    table = {
        "composition": (crop_corner, crop_cut_subject, tilt, aspect_stretch, border, empty_space),
        "lighting": (flat_contrast, harsh_contrast, clipped_highlights, underexposed),
        "colour_harmony": (washed_out, colour_cast, oversaturated),
    }
    return MappingProxyType({fn.__name__: AestheticEdit(fn.__name__, g, fn) for g, fns in table.items() for fn in fns})


AESTHETIC_EDITS: Mapping[str, AestheticEdit] = _registry()


def apply_aesthetic_edit(img: np.ndarray, name: str, strength: int, seed: int = 0) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> a new uint8 (H, W, 3) array: edit `name` at `strength` 1..3 (3 = worst).

    Deterministic per (img, name, strength, seed); the seed picks directions (corner, side, sign, hue), never
    the strength. Raises ValueError for an unknown edit, a strength outside 1..3, a negative seed, or an image
    that is not uint8 (H, W, 3) with sides >= 16 px."""
    if name not in AESTHETIC_EDITS:
        raise ValueError(f"unknown aesthetic edit {name!r}; expected one of {tuple(AESTHETIC_EDITS)}")
    if isinstance(strength, bool) or strength not in STRENGTHS:
        raise ValueError(f"strength must be one of {STRENGTHS}, got {strength!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    x = _check(img)
    rng = np.random.default_rng([int(seed), sum(map(ord, name))])
    out = AESTHETIC_EDITS[name].fn(x, int(strength), rng)
    if out.shape != x.shape or out.dtype != np.uint8:
        raise RuntimeError(f"aesthetic edit {name} returned {out.dtype} {out.shape} for uint8 {x.shape}")
    return np.array(out, order="C", copy=True)
