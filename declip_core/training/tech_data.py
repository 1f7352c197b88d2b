"""Training rows of `declip_tech`'s fragment head: severity ladders on the collection's 256-px training crops,
uniform and region-limited, on colour and greyscale originals.

Per training crop (deterministic per crop and seed):
- the clean crop (level 0 of every ladder of the crop);
- `uniform` distortion types (never a held-out type) at levels 1..5 over the whole crop;
- `region` region-limited ladders: one type at levels 1..5 inside one mask of
  declip_core.training.data.distortions.regions (halves, quadrants, bands, radial, outside-centre, blobs);
- for a `grey_fraction` of the crops, the crop's greyscale copy as a second clean original with `grey_uniform`
  uniform ladders of its own (a black-and-white photograph is not a technical defect; desaturation stays a
  colour-fidelity distortion inside a colour crop's ladders).
The pseudo-MOS of the whole image is not needed: the fragment head learns from within-ladder order (levels).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from declip_core.training.data.distortions import DISTORTIONS, N_LEVELS, apply_distortion
from declip_core.training.data.distortions.regions import REGION_KINDS, apply_region_distortion
from declip_core.training.quality_fit import Ladders

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class TechItem:
    """One training image: a crop (colour, or its greyscale copy), clean or one distortion at a level, over the
    whole crop (region '') or inside a region mask."""

    crop: str
    grey: bool
    type: str  # '' for the clean original
    level: int  # 0 clean, 1..5
    region: str  # '' = uniform
    seed: int

    @property
    def ladder(self) -> str:
        """The ladder id of a distorted item: crop|grey|type|region."""
        return f"{self.crop}|{int(self.grey)}|{self.type}|{self.region}"


def grey_copy(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (H, W, 3) greyscale (ITU-R BT.601 luma in all three channels)."""
    y = np.clip(np.rint(rgb.astype(np.float32) @ _LUMA), 0, 255).astype(np.uint8)
    return np.repeat(y[..., None], 3, axis=2)


def plan_tech_items(crops: Sequence[str], heldout_types: Sequence[str], uniform: int = 3, region: int = 1,
                    grey_fraction: float = 0.25, grey_uniform: int = 1, seed: int = 0) -> list[TechItem]:
    """The items of every crop (see the module docstring); types drawn per crop from the registry minus the
    held-out types. Raises ValueError for counts < 0, grey_fraction outside 0..1 or no trainable type."""
    types = [t for t in DISTORTIONS if t not in set(heldout_types)]
    if min(uniform, region, grey_uniform) < 0 or not 0 <= grey_fraction <= 1 or not types:
        raise ValueError(f"bad plan: uniform={uniform} region={region} grey_uniform={grey_uniform} "
                         f"grey_fraction={grey_fraction}, {len(types)} trainable types")
    out: list[TechItem] = []
    for k, crop in enumerate(crops):
        rng = random.Random(f"{seed}|{crop}")
        s = seed * 100_003 + k
        out.append(TechItem(crop, False, "", 0, "", s))
        for t in rng.sample(types, min(uniform, len(types))):
            out += [TechItem(crop, False, t, lv, "", s) for lv in range(1, N_LEVELS + 1)]
        for _ in range(region):
            t, kind = rng.choice(types), rng.choice(REGION_KINDS)
            out += [TechItem(crop, False, t, lv, kind, s) for lv in range(1, N_LEVELS + 1)]
        if rng.random() < grey_fraction:
            out.append(TechItem(crop, True, "", 0, "", s))
            for t in rng.sample(types, min(grey_uniform, len(types))):
                out += [TechItem(crop, True, t, lv, "", s) for lv in range(1, N_LEVELS + 1)]
    return out


def render_tech_item(item: TechItem, rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) image of an item from its crop's uint8 (H, W, 3) pixels."""
    base = grey_copy(rgb) if item.grey else rgb
    if item.level == 0:
        return base
    if item.region:
        return apply_region_distortion(base, item.type, item.level, item.region, seed=item.seed)
    return apply_distortion(base, item.type, item.level, seed=item.seed)


def tech_ladders(items: Sequence[TechItem]) -> Ladders:
    """Ladders of the items: each distorted item at its level in its ladder; each clean original (colour or
    grey) at level 0 of every ladder of the same crop and colour. `type` is '<type>' or '<type>@<region>'."""
    clean = {(it.crop, it.grey): i for i, it in enumerate(items) if it.level == 0}
    idx, lv, grp, typ = [], [], [], []
    seen: set[str] = set()
    for i, it in enumerate(items):
        if it.level == 0 or (it.crop, it.grey) not in clean:
            continue
        t = f"{it.type}@{it.region}" if it.region else it.type
        if it.ladder not in seen:
            seen.add(it.ladder)
            idx.append(clean[(it.crop, it.grey)]), lv.append(0), grp.append(it.ladder), typ.append(t)
        idx.append(i), lv.append(it.level), grp.append(it.ladder), typ.append(t)
    return Ladders(np.asarray(idx, dtype=np.int64), np.asarray(lv, dtype=np.int64), grp, typ)
