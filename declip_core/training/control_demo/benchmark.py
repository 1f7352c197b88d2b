"""The control benchmark: requests (family x level x sample, image or phrase condition), the shuffled-token
control, generation with shared noise, and the analysis (Spearman + bootstrap CI per family and source).

Design: sample i of every level and family uses noise seed i and reference crop i mod R, so within a
family only the condition changes with the level. The shuffled control keeps every request's seed and
requested level but feeds it the condition of another request of the same family and source. The
shuffle is level-balanced: sample i of requested level l gets a condition of level (l + i) mod 6, each
such condition drawn without replacement, so every requested level receives the same mix of fed levels
(exactly, when n_per_level is a multiple of 6) and the conditions are a permutation of the plain ones.
If the measured attribute follows the perceptual tokens, its correlation with the *requested* level
must vanish while its correlation with the *fed* level stays.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from declip_core.training.control_demo.data import FAMILIES, LEVELS, condition_for
from declip_core.training.control_demo.stats import Correlation, bootstrap_spearman, is_monotone, level_medians, spearman

SOURCES: tuple[str, ...] = ("image", "phrase")
KINDS: tuple[str, ...] = ("real", "image", "image_shuffled", "phrase", "phrase_shuffled")

CondId = tuple[str, str, int]  # ("image", condition key, reference index) or ("phrase", family, level)


@dataclass(frozen=True)
class Request:
    """One sample to generate: requested family/level, noise seed, and the condition actually fed."""

    family: str
    level: int
    seed: int
    source: str  # "image" | "phrase"
    cond: CondId
    shuffled: bool = False

    @property
    def kind(self) -> str:
        return self.source + ("_shuffled" if self.shuffled else "")

    @property
    def fed_level(self) -> int:
        """The level of the condition actually fed (differs from `level` in the shuffled control)."""
        if self.cond[0] == "phrase":
            return int(self.cond[2])
        key = str(self.cond[1])
        return 0 if key == "clean" else int(key[len(self.family):])


def build_requests(n_per_level: int, n_refs: int, seed: int = 0) -> list[Request]:
    """Plain requests for both sources and all families, then their level-balanced shuffled copies."""
    if n_per_level < 2 or n_refs < 1:
        raise ValueError(f"need n_per_level >= 2 and n_refs >= 1, got {n_per_level}, {n_refs}")
    rng = np.random.default_rng(seed)
    out: list[Request] = []
    for source in SOURCES:
        for fam in FAMILIES:
            by_level: dict[int, list[Request]] = {}
            for lv in LEVELS:
                for i in range(n_per_level):
                    cond: CondId = (("image", condition_for(fam, lv).key, i % n_refs) if source == "image"
                                    else ("phrase", fam, lv))
                    by_level.setdefault(lv, []).append(Request(fam, lv, i, source, cond))
            plain = [r for lv in LEVELS for r in by_level[lv]]
            # Each fed level is used exactly n_per_level times in all: a permutation of the plain conditions.
            pools = {lv: [by_level[lv][j] for j in rng.permutation(n_per_level)] for lv in LEVELS}
            shuffled = [Request(r.family, r.level, r.seed, source, pools[(r.level + r.seed) % len(LEVELS)].pop().cond,
                                True) for r in plain]
            out += plain + shuffled
    return out


def generate_requests(requests: Sequence[Request], embeddings: dict[CondId, torch.Tensor],
                      generate: Callable[[torch.Tensor, list[int]], torch.Tensor], batch: int = 64,
                      log: Callable[[str], None] | None = None) -> dict[tuple[CondId, int], torch.Tensor]:
    """Generate each distinct (condition, seed) once; returns {(cond, seed): (3, H, W) image in 0..1}.

    generate(perceptual (B, P), seeds) -> (B, 3, H, W) images.
    """
    keys = list(dict.fromkeys((r.cond, r.seed) for r in requests))
    missing = {k[0] for k in keys} - embeddings.keys()
    if missing:
        raise ValueError(f"no embedding for conditions {sorted(missing)[:3]}")
    out: dict[tuple[CondId, int], torch.Tensor] = {}
    for i in range(0, len(keys), batch):
        chunk = keys[i : i + batch]
        emb = torch.stack([embeddings[c] for c, _ in chunk])  # (b, P)
        imgs = generate(emb, [s for _, s in chunk])
        out.update(zip(chunk, imgs))
        if log:
            log(f"generated {min(i + batch, len(keys))}/{len(keys)}")
    return out


@dataclass(frozen=True)
class FamilyResult:
    """One family x kind: Spearman of the family's attribute and of declip_tech with the level."""

    family: str
    kind: str
    attribute: str
    attr: Correlation
    attr_medians: dict[int, float]
    monotone: bool
    tech: Correlation | None
    tech_means: dict[int, float]
    fed: Correlation | None = None  # shuffled kinds: Spearman(fed level, attribute)
    design_rho: float | None = None  # shuffled kinds: Spearman(requested level, fed level)

    def to_dict(self) -> dict[str, Any]:
        c = self.attr
        d = {"family": self.family, "kind": self.kind, "attribute": self.attribute, "rho": c.rho, "ci": [c.lo, c.hi],
             "n": c.n, "medians": self.attr_medians, "monotone_medians": self.monotone, "tech_means": self.tech_means}
        if self.tech is not None:
            d["tech_rho"], d["tech_ci"] = self.tech.rho, [self.tech.lo, self.tech.hi]
        if self.fed is not None:
            d["fed_rho"], d["fed_ci"], d["design_rho"] = self.fed.rho, [self.fed.lo, self.fed.hi], self.design_rho
        return d


def analyse(rows: Sequence[dict[str, Any]], n_boot: int = 2000, seed: int = 0) -> list[FamilyResult]:
    """rows: {"family", "level", "kind", "sharpness", "noise", "exposure", ["tech"], ["fed_level"]}
    -> one result per family x kind (with the fed-level correlation where rows carry fed_level)."""
    out = []
    for fam, spec in FAMILIES.items():
        for kind in KINDS:
            sel = [r for r in rows if r["family"] == fam and r["kind"] == kind]
            if not sel:
                continue
            lv = np.array([r["level"] for r in sel])
            val = np.array([r[spec.attribute] for r in sel], dtype=np.float64)
            corr = bootstrap_spearman(lv, val, n_boot=n_boot, seed=seed)
            med = level_medians(lv, val)
            tech, means = None, {}
            if all("tech" in r for r in sel):
                tv = np.array([r["tech"] for r in sel], dtype=np.float64)
                tech = bootstrap_spearman(lv, tv, n_boot=n_boot, seed=seed)
                means = {int(u): float(tv[lv == u].mean()) for u in np.unique(lv)}
            fed, design = None, None
            if kind.endswith("_shuffled") and all("fed_level" in r for r in sel):
                fl = np.array([r["fed_level"] for r in sel])
                fed = bootstrap_spearman(fl, val, n_boot=n_boot, seed=seed)
                design = spearman(lv, fl) if len(np.unique(fl)) > 1 else float("nan")
            out.append(FamilyResult(fam, kind, spec.attribute, corr, med, is_monotone(med, spec.direction), tech, means,
                                    fed, design))
    return out


def verdict(results: Sequence[FamilyResult]) -> dict[str, bool]:
    """Done-criteria per family: conditioned kinds have the expected sign with a CI excluding 0;
    shuffled kinds have a CI covering 0."""
    out = {}
    for r in results:
        if r.kind == "real":
            continue
        d = FAMILIES[r.family].direction
        if r.kind.endswith("_shuffled"):
            ok = r.attr.lo <= 0 <= r.attr.hi
        else:
            ok = r.attr.excludes_zero and np.sign(r.attr.rho) == d
        out[f"{r.family}/{r.kind}"] = bool(ok)
    return out
