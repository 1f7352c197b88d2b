"""Rerun spread: how far float rounding of the inputs moves a trained disentangler's embeddings.

Training is deterministic on one machine: the same inputs give the same bits. Another machine's BLAS, another
thread count or, before text features were made batch-independent (backbones/minilm.py), another order of
filling the feature cache changes the inputs in their last bits (~1e-7 relative; float32's unit roundoff is
6e-8). `rerun_spread` retrains a disentangler on its own inputs with such a change in one part and measures how
far the embeddings of the reference photos move: the spread against which a rebuild (repro_check.py) has to be
judged. Used by training/rerun_spread.py; figures in docs/weights.md, "Reproduce".
"""
from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from declip_core.training.disentangler import TrainArrays
from declip_core.training.repro_check import embed_samples, max_abs_diff

PARTS = {"feats": "backbone features", "perc_text": "perceptual text features", "sem_text": "semantic text features"}
REL_SIZE = 1e-7  # relative size of the change: the last bits of a float32
EMBEDDINGS = ("perceptual", "semantic")


def perturb(arrays: TrainArrays, part: str, seed: int, rel: float = REL_SIZE) -> TrainArrays:
    """A copy of `arrays` whose `part` ('feats', 'perc_text' or 'sem_text') is multiplied element-wise by
    (1 + rel * N(0, 1)), the normal draws from numpy's default_rng(seed); every other field is the same object.
    Raises ValueError for an unknown part or rel < 0."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; one of {sorted(PARTS)}")
    if rel < 0:
        raise ValueError(f"rel must be >= 0, got {rel}")
    x = np.asarray(getattr(arrays, part), dtype=np.float32)
    noise = np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)
    return dataclasses.replace(arrays, **{part: x * (np.float32(1) + np.float32(rel) * noise)})


def parse_variant(text: str) -> tuple[str | None, int]:
    """'same' -> (None, 0): the inputs as they are; 'PART:SEED' (e.g. 'sem_text:1') -> (PART, SEED).
    Raises ValueError naming the text otherwise."""
    if text == "same":
        return None, 0
    part, _, seed = text.partition(":")
    if part not in PARTS or not seed.isdigit():
        raise ValueError(f"variant {text!r}: expected 'same' or PART:SEED with PART in {sorted(PARTS)}")
    return part, int(seed)


@dataclass(frozen=True)
class SpreadRow:
    variant: str  # 'run' (the run's own DeCLIP), 'same' or PART:SEED
    max_diff: dict[str, float]  # embedding -> max |this - the retraining on unchanged inputs| (photos, components)
    max_diff_reference: dict[str, float]  # embedding -> max |this - reference| over the stored components
    seconds: float  # training time (0 for 'run')


def rerun_spread(arrays: TrainArrays, train: Any, backbone: Any, run_embeddings: Mapping[str, Mapping[str, Any]],
                 images: Mapping[str, Any], variants: Sequence[str],
                 reference: Mapping[str, Mapping[str, Any]] | None = None) -> list[SpreadRow]:
    """Retrain on the unchanged inputs ('same', always first) and once per other variant; compare every result,
    and the run's own DeCLIP (row 'run', first), with the unchanged retraining and with `reference`.
    `train(arrays, out_dir)` -> a trained Disentangler (the run's config and seed); `run_embeddings`:
    embed_samples of the run's DeCLIP; `reference`: the same of the shipped one, possibly only the first
    components (optional). Row 'run' is 0 when the run was made by this code from these inputs. ValueError for
    a bad variant, before any training."""
    from declip_core.inference import DeCLIP

    parsed = [parse_variant(v) for v in variants]
    todo = [("same", None, 0)] + [(v, part, seed) for v, (part, seed) in zip(variants, parsed) if v != "same"]
    got, secs = {}, {}
    for text, part, seed in todo:
        a = arrays if part is None else perturb(arrays, part, seed)
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            dis = train(a, tmp)
        secs[text] = time.perf_counter() - t
        got[text] = embed_samples(DeCLIP(backbone, dis).eval(), images)
    base = got["same"]
    rows = []
    for text, emb, sec in [("run", run_embeddings, 0.0)] + [(v, got[v], secs[v]) for v, _, _ in todo]:
        rows.append(SpreadRow(text, {p: max_abs_diff(emb, base, p) for p in EMBEDDINGS},
                              {p: max_abs_diff(emb, reference, p) for p in EMBEDDINGS} if reference else {}, sec))
    return rows


def format_table(rows: Sequence[SpreadRow]) -> str:
    """A markdown table: one row per variant, max |diff| per embedding against the unchanged retraining and
    against the reference."""
    ref = any(r.max_diff_reference for r in rows)
    head = "| variant | inputs | perceptual vs same (all components) | semantic vs same (all) |" + \
        (" perceptual vs shipped (stored components) | semantic vs shipped (stored) |" if ref else "") + \
        " training s |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if r.variant == "run":
            what = "the run's own DeCLIP"
        else:
            part, _ = parse_variant(r.variant)
            what = "unchanged" if part is None else f"{PARTS[part]} x (1 + {REL_SIZE:g} N(0,1))"
        cells = [r.variant, what, *(f"{r.max_diff[p]:.2e}" for p in EMBEDDINGS)]
        if ref:
            cells += [f"{r.max_diff_reference[p]:.2e}" if r.max_diff_reference else "" for p in EMBEDDINGS]
        lines.append("| " + " | ".join(cells) + f" | {r.seconds:.0f} |")
    return "\n".join(lines)
