"""How a quality model looks at an image: native-resolution fragments, native crops, or one whole-image view.

Distortions live at the pixel scale: downscaling a 12-MP photo to 224 px hides blur and noise.
The I&2T training images are distorted 256-px crops seen at (almost) native scale, so the `crops`
policy scores native-resolution square crops (`layout`: one at the centre, two opposite corners, the
four corners and the centre, or an n x n grid), each resized to the backbone input exactly as in
training, and averages their scores.
`resize` is one view of the whole image by the backbone's own rule (shortest side + centre crop); `whole` is
the full frame squashed to the backbone input (nothing cut away: composition needs every edge; `declip_aes`).

`fragments` (grid mini-patch sampling, FAST-VQA / FasterVQA, Wu et al. 2022): a `grid` x `grid` lattice of
native-resolution `side` x `side` patches, evenly spread from corner to corner (so every region of the image is
sampled at any size, at a cost that does not grow with the pixel count), spliced into one
(grid * side)-px mosaic. At (grid * side) px the mosaic is the image itself; larger images give gaps between
fragments, smaller ones overlapping fragments: the layout changes continuously with the size (no threshold).

The crop side changes continuously with the image size, so the score does too (no policy switch):
    c = min(short, side * max(1, short / max_side))
- images with a shorter side below `side` give crops of the whole short side (for a square image all
  crops are the whole image; they merge continuously as the image grows past `side`);
- images with a shorter side above `max_side` give proportionally larger crops, i.e. the view sees the
  image as if downscaled to `max_side` (the crop is resized to the backbone input anyway), without a
  separate whole-image resample that would switch on at one size.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from declip_core.preprocess import PreprocessConfig
from declip_core.transforms import clamp01, resize_tensor01

if TYPE_CHECKING:
    from PIL import Image

POLICIES = ("resize", "crops", "whole", "fragments")
LAYOUTS = ("centre", "pair", "five", "grid")


@dataclass(frozen=True)
class ViewPolicy:
    """policy: 'crops', 'resize', 'whole' or 'fragments'. side: crop (or fragment) side in pixels at native
    scale (>= 8).
    max_side: shorter sides above this are seen downscaled to it (crops grow by short / max_side).
    layout: 'centre' (one crop at the centre), 'pair' (top-left and bottom-right corners), 'five' (4 corners
    + centre) or 'grid' (grid x grid evenly spaced crops, corners included). grid: crops per side of the 'grid'
    layout, and fragments per side of the 'fragments' policy."""

    policy: str = "resize"
    side: int = 256
    max_side: int = 2048
    layout: str = "five"
    grid: int = 3

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"view policy must be one of {POLICIES}, got {self.policy!r}")
        if self.side < 8 or self.max_side < self.side:
            raise ValueError(f"bad view sizes side={self.side} max_side={self.max_side}")
        if self.layout not in LAYOUTS or self.grid < 2:
            raise ValueError(f"bad crop layout {self.layout!r} (one of {LAYOUTS}) / grid={self.grid} (>= 2)")

    def to_dict(self) -> dict:
        return asdict(self)


def crop_side(h: int, w: int, vp: ViewPolicy) -> int:
    """Side in pixels of the square crops of an (h, w) image: min(short, side * max(1, short / max_side))."""
    short = min(h, w)
    return min(short, max(vp.side, round(vp.side * short / vp.max_side)))


def crop_boxes(h: int, w: int, vp: ViewPolicy) -> list[tuple[int, int, int]]:
    """(top, left, c) of each crop of an (h, w) image under a 'crops' policy."""
    c = crop_side(h, w, vp)
    if vp.layout == "centre":
        return [((h - c) // 2, (w - c) // 2, c)]
    if vp.layout == "pair":
        return [(0, 0, c), (h - c, w - c, c)]
    if vp.layout == "five":
        return [(0, 0, c), (0, w - c, c), (h - c, 0, c), (h - c, w - c, c), ((h - c) // 2, (w - c) // 2, c)]
    g = vp.grid
    tops = [round(i * (h - c) / (g - 1)) for i in range(g)]
    lefts = [round(j * (w - c) / (g - 1)) for j in range(g)]
    return [(t, l, c) for t in tops for l in lefts]


def n_views(h: int, w: int, vp: ViewPolicy) -> int:
    """Number of views an (h, w) image gives (the same for every size)."""
    if vp.policy in ("resize", "whole", "fragments"):
        return 1
    return {"centre": 1, "pair": 2, "five": 5}.get(vp.layout, vp.grid * vp.grid)


def fragment_starts(n: int, vp: ViewPolicy) -> list[int]:
    """Start offsets of the `vp.grid` fragments along a side of n >= 1 px: evenly spread from 0 to n - f,
    f = min(vp.side, n) (the fragment side actually used)."""
    f = min(vp.side, n)
    return [round(i * (n - f) / (vp.grid - 1)) for i in range(vp.grid)]


def fragment_mosaic(images01: torch.Tensor, vp: ViewPolicy) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, grid * f, grid * f) mosaic of native-resolution fragments (f = min(side, H, W));
    differentiable (a gather of pixels, no resampling)."""
    h, w = images01.shape[-2:]
    tops, lefts = fragment_starts(h, vp), fragment_starts(w, vp)
    f = min(vp.side, h, w)
    rows = [torch.cat([images01[:, :, t : t + f, l : l + f] for l in lefts], dim=3) for t in tops]
    return torch.cat(rows, dim=2)


def pil_fragment_mosaic(img: "Image.Image", vp: ViewPolicy) -> torch.Tensor:
    """An RGB PIL image -> (3, grid * f, grid * f) float32 mosaic in 0..1, the same values as fragment_mosaic of
    the decoded tensor, cropped from the image without converting all of it (a 12-MP photo stays 8-bit; only
    grid * grid fragments become float)."""
    w, h = img.size
    tops, lefts = fragment_starts(h, vp), fragment_starts(w, vp)
    f = min(vp.side, h, w)
    rows = [np.concatenate([np.asarray(img.crop((l, t, l + f, t + f)), dtype=np.uint8) for l in lefts], axis=1)
            for t in tops]
    return torch.from_numpy(np.concatenate(rows, axis=0)).permute(2, 0, 1).float().div_(255.0)


def make_views(images01: torch.Tensor, vp: ViewPolicy, cfg: PreprocessConfig) -> torch.Tensor:
    """(B, 3, H, W) in 0..1 -> (B, K, 3, S, S) in 0..1 (not normalised); differentiable."""
    if images01.ndim != 4 or images01.shape[1] != 3:
        raise ValueError(f"expected images (B, 3, H, W) in 0..1, got {tuple(images01.shape)}")
    h, w = images01.shape[-2:]
    if vp.policy == "whole":
        return resize_tensor01(images01, replace(cfg, resize="squash")).unsqueeze(1)
    if vp.policy == "fragments":
        return resize_tensor01(fragment_mosaic(images01, vp), cfg).unsqueeze(1)
    if vp.policy == "resize":
        if min(h, w) > vp.max_side:
            s = vp.max_side / min(h, w)
            images01 = torch.nn.functional.interpolate(images01, size=(max(1, round(h * s)), max(1, round(w * s))),
                                                       mode="bicubic", antialias=True, align_corners=False)
            images01 = clamp01(images01)  # straight-through: pixels at 0 and 1 keep their gradient
        return resize_tensor01(images01, cfg).unsqueeze(1)
    crops = torch.stack([images01[:, :, t : t + c, l : l + c] for t, l, c in crop_boxes(h, w, vp)], dim=1)
    b, k = crops.shape[:2]  # crops: (B, K, 3, c, c), all of one size: resized in one call
    return resize_tensor01(crops.flatten(0, 1), cfg).unflatten(0, (b, k))  # (B, K, 3, S, S)


def mean_over_views(per_view: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """The score of an input is the mean over its views: per-view values (sum K_i, ...) of consecutive inputs,
    input i holding K_i = counts[i] rows -> (len(counts), ...) their means, in the dtype given. Raises
    ValueError when the counts do not add up to the rows or one is < 1."""
    counts = [int(k) for k in counts]
    if not counts or min(counts) < 1 or sum(counts) != per_view.shape[0]:
        raise ValueError(f"view counts {counts} do not split {per_view.shape[0]} per-view rows")
    if len(set(counts)) == 1:  # every input has K views: one reshape, one mean
        return per_view.unflatten(0, (len(counts), counts[0])).mean(dim=1)
    return torch.stack([p.mean(dim=0) for p in torch.split(per_view, counts)])
