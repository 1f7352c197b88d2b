"""A deterministic plan of I&2T samples: the same config and photos always give the same jobs."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from declip_core.training.data.distortions import DISTORTIONS, sample_chain


@dataclass(frozen=True)
class Job:
    """One sample to render."""

    kind: str  # clean | distort | aes_neg | labelled
    photo: int  # index into the photo list
    crop: tuple[int, int, int, int] | None  # (left, top, right, bottom) in the photo, None = whole image
    chain: tuple[tuple[str, int], ...] = ()
    aes_neg: str = ""
    seed: int = 0
    split: str = "train"
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def crop_boxes(w: int, h: int, n: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """n square crops with side 50-90% of the shorter edge; the first is centred."""
    s_min = min(w, h)
    boxes = []
    for i in range(n):
        side = int(s_min * (0.9 if i == 0 else rng.uniform(0.5, 0.9)))
        side = max(1, side)
        if i == 0:
            left, top = (w - side) // 2, (h - side) // 2
        else:
            left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        boxes.append((left, top, left + side, top + side))
    return boxes


def plan_photo(index: int, size: tuple[int, int], heldout: bool, labelled: bool, crops: int, singles: int,
               combos: int, aes_negs: tuple[str, ...], heldout_types: tuple[str, ...], seed: int) -> list[Job]:
    """Jobs for one photo. Held-out photos get every type at every level (for evaluation);
    training photos never see a held-out distortion type."""
    rng = np.random.default_rng([seed, index])
    if labelled:  # a real dataset's image with its own label: used whole, never distorted
        return [Job("labelled", index, None, seed=int(rng.integers(2**31)), split="train")]
    w, h = size
    jobs: list[Job] = []
    split = "heldout" if heldout else "train"
    boxes = crop_boxes(w, h, 2 if heldout else crops, rng)
    for box in boxes:
        jobs.append(Job("clean", index, box, seed=int(rng.integers(2**31)), split=split))
        if heldout:
            for name in sorted(DISTORTIONS):
                for lv in range(1, 6):
                    jobs.append(Job("distort", index, box, ((name, lv),), seed=int(rng.integers(2**31)), split=split))
            continue
        for _ in range(singles):
            ch = sample_chain(rng, 1, 1, exclude=heldout_types)
            jobs.append(Job("distort", index, box, tuple((a.name, a.level) for a in ch),
                            seed=int(rng.integers(2**31)), split=split))
        for _ in range(combos):
            ch = sample_chain(rng, 2, 3, exclude=heldout_types)
            jobs.append(Job("distort", index, box, tuple((a.name, a.level) for a in ch),
                            seed=int(rng.integers(2**31)), split=split))
        for neg in aes_negs:
            jobs.append(Job("aes_neg", index, box, aes_neg=neg, seed=int(rng.integers(2**31)), split=split))
    return jobs


def plan_crop(index: int, split: str, ladders: int, singles: int, combos: int, aes_negs: tuple[str, ...],
              heldout_types: tuple[str, ...], seed: int, crop_id: str = "") -> list[Job]:
    """Jobs for one pre-cut crop of a gathered photo (used whole, box None).

    train: the clean crop; `ladders` distortion types (never a held-out type) at ALL five levels, each
    level tagged with the ladder id '<crop_id>|<type>' (for a ranking loss over the levels of one crop
    and type); `singles` single distortions at a random level; `combos` chains of 2-3 distortions;
    the aesthetic negatives. val / test: the clean crop and every type at every level (every type is
    a ladder), for evaluation."""
    rng = np.random.default_rng([seed, index])
    jobs = [Job("clean", index, None, seed=int(rng.integers(2**31)), split=split)]
    if split != "train":
        types = sorted(DISTORTIONS)
    else:
        allowed = sorted(set(DISTORTIONS) - set(heldout_types))
        types = sorted(rng.choice(allowed, size=min(ladders, len(allowed)), replace=False).tolist())
    for name in types:
        for lv in range(1, 6):
            jobs.append(Job("distort", index, None, ((name, lv),), seed=int(rng.integers(2**31)), split=split,
                            extra={"ladder": f"{crop_id}|{name}"}))
    if split != "train":
        return jobs
    for _ in range(singles):
        ch = sample_chain(rng, 1, 1, exclude=heldout_types)
        jobs.append(Job("distort", index, None, tuple((a.name, a.level) for a in ch), seed=int(rng.integers(2**31)),
                        split=split))
    for _ in range(combos):
        ch = sample_chain(rng, 2, 3, exclude=heldout_types)
        jobs.append(Job("distort", index, None, tuple((a.name, a.level) for a in ch), seed=int(rng.integers(2**31)),
                        split=split))
    for neg in aes_negs:
        jobs.append(Job("aes_neg", index, None, aes_neg=neg, seed=int(rng.integers(2**31)), split=split))
    return jobs
