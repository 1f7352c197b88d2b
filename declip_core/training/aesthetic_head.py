"""Training `declip_aes` without ratings: ranking pairs from graded aesthetic edits and technical damage.

Items per curated photograph (declip_core.training.data.aesthetic_edits): the original (and its mirror image,
an equally good framing), every edit at strengths 1..3 for each seed, and registry distortions at levels
3..5 (technical damage lowers aesthetics: AVA scores fall with heavy noise, blur and compression). Pairs, the
first preferred:
  (original, edit at any strength)                        the professional framing beats its edits
  (edit at strength s, the same edit and seed at s + 1)   graded: a milder edit beats a stronger one
  (original, damage at level 3..5)                        damage lowers aesthetics
Validation ladders: per (photo, edit, seed) the original at level 0 and strengths 1..3 at levels 1..3; per
(photo, damage type) the original at 0 and levels 3..5 at 1..3 (within-ladder SRCC picks the epoch).

Aesthetic attributes (composition, lighting, colour_harmony; the edit groups): P(good) per group, target 1 for originals, damage and
the other groups' edits, 1 - 0.25 x strength for the group's own edits, plus the ranking loss over the
group's own ladders.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from declip_core.constants import AES_ATTRIBUTES  # the edit groups: ("composition", "lighting", "colour_harmony")
from declip_core.training.data.aesthetic_edits import AESTHETIC_EDITS, STRENGTHS, apply_aesthetic_edit
from declip_core.training.quality_fit import Ladders

DAMAGE_LEVELS = (3, 4, 5)
ATTRIBUTE_STEP = 0.25  # attribute target 1 - ATTRIBUTE_STEP * strength for the group's own edits


@dataclass(frozen=True)
class AesItem:
    """One image of the aesthetic set: kind 'original', 'edit' or 'damage'; `name` the edit or distortion
    (or 'mirror' / '' for originals); `level` the strength (edits, 1..3) or level (damage, 3..5), 0 for
    originals."""

    photo: str
    kind: str
    name: str
    level: int
    seed: int


def plan_items(photos: Sequence[str], seeds: Sequence[int] = (0,), damage_types: Sequence[str] = (),
               edits: Sequence[str] | None = None, mirror: bool = True) -> list[AesItem]:
    """The items of each photo: original (+ mirror), every edit x strength x seed, damage type x level 3..5."""
    edits = tuple(AESTHETIC_EDITS) if edits is None else tuple(edits)
    out: list[AesItem] = []
    for p in photos:
        out.append(AesItem(p, "original", "", 0, 0))
        if mirror:
            out.append(AesItem(p, "original", "mirror", 0, 0))
        out += [AesItem(p, "edit", e, s, sd) for e in edits for sd in seeds for s in STRENGTHS]
        out += [AesItem(p, "damage", t, lv, 0) for t in damage_types for lv in DAMAGE_LEVELS]
    return out


def render_item(item: AesItem, rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) image of an item from its photo's uint8 (H, W, 3) original."""
    if item.kind == "original":
        return np.ascontiguousarray(rgb[:, ::-1]) if item.name == "mirror" else rgb
    if item.kind == "edit":
        return apply_aesthetic_edit(rgb, item.name, item.level, seed=item.seed)
    if item.kind == "damage":
        from declip_core.training.data.distortions import apply_distortion

        return apply_distortion(rgb, item.name, item.level, seed=item.seed)
    raise ValueError(f"unknown aesthetic item kind {item.kind!r}")


def aesthetic_pairs(items: Sequence[AesItem]) -> tuple[torch.Tensor, torch.Tensor]:
    """(better, worse) int64 index pairs (see the module docstring)."""
    originals: dict[str, list[int]] = {}
    by_key: dict[tuple, dict[int, int]] = {}
    for i, it in enumerate(items):
        if it.kind == "original":
            originals.setdefault(it.photo, []).append(i)
        else:
            by_key.setdefault((it.photo, it.kind, it.name, it.seed), {})[it.level] = i
    b, w = [], []
    for (photo, kind, _, _), levels in by_key.items():
        for lv, j in levels.items():
            for o in originals.get(photo, []):
                b.append(o), w.append(j)
            if kind == "edit" and lv + 1 in levels:
                b.append(j), w.append(levels[lv + 1])
    return torch.tensor(b, dtype=torch.long), torch.tensor(w, dtype=torch.long)


def aesthetic_ladders(items: Sequence[AesItem], kinds: Sequence[str] = ("edit", "damage")) -> Ladders:
    """Validation ladders: the photo's first original at level 0, then the edit's strengths (or the damage's
    levels, renumbered 1..3) per (photo, edit or type, seed); `type` is the edit or distortion name."""
    first: dict[str, int] = {}
    for i, it in enumerate(items):
        if it.kind == "original":
            first.setdefault(it.photo, i)
    idx, lv, grp, typ = [], [], [], []
    seen: set[str] = set()
    for i, it in enumerate(items):
        if it.kind not in kinds or it.photo not in first:
            continue
        g = f"{it.photo}|{it.kind}|{it.name}|{it.seed}"
        if g not in seen:
            seen.add(g)
            idx.append(first[it.photo]), lv.append(0), grp.append(g), typ.append(it.name)
        level = it.level if it.kind == "edit" else DAMAGE_LEVELS.index(it.level) + 1
        idx.append(i), lv.append(level), grp.append(g), typ.append(it.name)
    return Ladders(np.asarray(idx, dtype=np.int64), np.asarray(lv, dtype=np.int64), grp, typ)


def attribute_targets(items: Sequence[AesItem]) -> torch.Tensor:
    """(N, 3) float32 targets for AES_ATTRIBUTES (see the module docstring)."""
    t = torch.ones(len(items), len(AES_ATTRIBUTES))
    for i, it in enumerate(items):
        if it.kind == "edit":
            t[i, AES_ATTRIBUTES.index(AESTHETIC_EDITS[it.name].group)] = 1.0 - ATTRIBUTE_STEP * it.level
    return t


def attribute_pairs(items: Sequence[AesItem], better: torch.Tensor, worse: torch.Tensor
                    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per attribute, the pairs whose worse side is an edit of that attribute's group."""
    groups = [AESTHETIC_EDITS[items[j].name].group if items[j].kind == "edit" else "" for j in worse.tolist()]
    out = []
    for a in AES_ATTRIBUTES:
        keep = torch.tensor([g == a for g in groups], dtype=torch.bool)
        out.append((better[keep], worse[keep]))
    return out


def pair_accuracy(scores: np.ndarray, items: Sequence[AesItem], better: torch.Tensor, worse: torch.Tensor,
                  key: Callable[[AesItem], str] = lambda it: it.name) -> dict[str, float]:
    """Share of pairs ranked right (a tie counts 0.5), per key of the worse item and 'all'."""
    s = np.asarray(scores, dtype=np.float64)
    ok = (s[better.numpy()] > s[worse.numpy()]) + 0.5 * (s[better.numpy()] == s[worse.numpy()])
    out: dict[str, list[float]] = {"all": ok.tolist()}
    for k, j in enumerate(worse.tolist()):
        out.setdefault(key(items[j]), []).append(float(ok[k]))
    return {k: float(np.mean(v)) for k, v in out.items()}
