"""Human-MOS datasets as labelled image lists: `load_mos_set(spec)` reads a dataset through
`declip_core.training.data.sources` (``name:/root[;key=value]``), MOS normalised to 0..1 (higher better);
missing files and records without MOS are reported."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from declip_core.training.data.sources import check_images, read_sources_spec

_HERE = "declip_core/training/mos/sets.py"
Problem = tuple[str, str]  # (path, reason)


@dataclass(frozen=True)
class MosSet:
    """One dataset's labelled images: targets are MOS in 0..1, higher better.

    groups: the reference image of each item for synthetic sets (splits keep a reference's
    distorted versions on one side), else None.
    """

    name: str
    paths: tuple[str, ...]
    targets: np.ndarray
    groups: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.targets):
            raise ValueError(f"{_HERE}: {self.name}: {len(self.paths)} paths but {len(self.targets)} targets")
        if self.groups is not None and len(self.groups) != len(self.paths):
            raise ValueError(f"{_HERE}: {self.name}: {len(self.groups)} groups for {len(self.paths)} paths")

    def subset(self, idx: Sequence[int] | np.ndarray) -> MosSet:
        """The items at idx, in that order."""
        ix = np.asarray(idx, dtype=np.int64)
        return MosSet(self.name, tuple(self.paths[i] for i in ix), self.targets[ix],
                      None if self.groups is None else tuple(self.groups[i] for i in ix))


def default_metric(spec: str) -> str:
    """'aes' for AVA (aesthetic MOS), 'tech' for every technical-quality set."""
    return "aes" if spec.partition(":")[0].strip().lower() == "ava" else "tech"


def load_mos_set(spec: str, split: str | None = None, name: str | None = None) -> tuple[MosSet, list[Problem]]:
    """Read a dataset spec; (set of present, labelled images, [(path, reason)] for the rest).

    split: keep only records of that official split (KonIQ-10k, AVA: 'train' / 'val' / 'test').
    """
    records = read_sources_spec(spec)
    label = name or spec.partition(":")[0].strip()
    if split is not None:
        if not any(r.split is not None for r in records):
            raise ValueError(f"{_HERE}: {spec!r} has no official split, so split={split!r} cannot be used")
        records = [r for r in records if r.split == split]
    present, missing = check_images(records)
    problems: list[Problem] = [(str(p), why) for p, why in missing]
    paths, targets, groups = [], [], []
    for r in present:
        m = r.normalized_mos()
        if m is None:
            problems.append((str(r.image_path), "no MOS (or no MOS scale) in the label file"))
            continue
        paths.append(str(r.image_path))
        targets.append(m)
        groups.append(None if r.ref_image_path is None else str(r.ref_image_path))
    if len(paths) < 2:
        raise ValueError(f"{_HERE}: {spec!r} gives {len(paths)} usable labelled image(s) "
                         f"({len(problems)} problem(s), first: {problems[:3]}); need at least 2")
    grouped = all(g is not None for g in groups)
    return MosSet(label, tuple(paths), np.asarray(targets, dtype=np.float64),
                  tuple(groups) if grouped else None), problems  # type: ignore[arg-type]
