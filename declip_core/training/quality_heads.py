"""Training the quality heads on I&2T-derived targets and choosing each metric's default head.

tech target: the row's pseudo-MOS (`pseudo_mos`, a full-reference ensemble against the pristine crop)
where the set has it, else `quality` (1 for a clean crop, times (1 - 0.18 level) per applied
distortion), plus a ranking loss over severity ladders (declip_core.training.quality_fit).
Attributes: a supervised AttributeHead (own-family targets and ladders) or the zero-shot anchors.
aes target: `aesthetic` (0.75 clean, 0.75 sqrt(quality) distorted, 0.35 weak aesthetic negatives):
a demo-grade stand-in for human aesthetic scores, which cannot be had offline.
The default head of each metric is the one with the better score on validation photos (training
photos held out from head training), never on the held-out evaluation photos.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from declip_core.training.data.manifest import Row
from declip_core.inference import DeCLIP
from declip_core.iqa.heads import RegressionHead, ZeroShotHead
from declip_core.iqa.model import QualityModel, save_quality_head, zero_shot_head
from declip_core.views import ViewPolicy, make_views
from declip_core.training.quality_fit import (TECH_ATTRIBUTES, FeatureFitConfig, FitConfig, Ladders,
                                              attribute_family, attribute_targets, fit_attribute_head,
                                              fit_feature_attribute_head, fit_feature_head, fit_tech_head,
                                              flat_frame_targets, flat_frames, ladders_of)
from declip_core.training.ranking import within_group_summary
from declip_core.training.runtime import isolated_rng


@isolated_rng
def fit_regression_head(emb: torch.Tensor, target: torch.Tensor, epochs: int = 400, lr: float = 3e-3,
                        weight_decay: float = 1e-4, seed: int = 0) -> RegressionHead:
    """Full-batch AdamW on MSE. emb (N, P), target (N,) in 0..1."""
    if emb.shape[0] != target.shape[0] or emb.shape[0] < 2:
        raise ValueError(f"need matching non-trivial emb/target, got {tuple(emb.shape)} and {tuple(target.shape)}")
    torch.manual_seed(seed)
    head = RegressionHead(emb.shape[1])
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(head(emb), target)
        loss.backward()
        opt.step()
    return head.eval()


def within_group_srcc(scores: Sequence[float], levels: Sequence[int], groups: Sequence[str]) -> float:
    """Mean over groups of SRCC(score, -level): 1 when the score falls as severity rises."""
    by: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for s, lv, g in zip(scores, levels, groups):
        by[g].append((float(s), int(lv)))
    vals = []
    for items in by.values():
        if len({lv for _, lv in items}) < 3:
            continue
        r = spearmanr([s for s, _ in items], [-lv for _, lv in items]).statistic
        if not math.isnan(r):
            vals.append(r)
    return float(np.mean(vals)) if vals else float("nan")


def pairwise_accuracy(scores: dict[str, float], pairs: Sequence[tuple[str, str]]) -> float:
    """Fraction of (better, worse) pairs ordered correctly (2AFC)."""
    ok = [scores[a] > scores[b] for a, b in pairs if a in scores and b in scores]
    return float(np.mean(ok)) if ok else float("nan")


def single_distortion_view(rows: Sequence[Row]) -> tuple[list[int], list[int], list[str]]:
    """Indices, levels and (photo, type) groups of single-distortion rows plus clean rows as level 0
    of every type of their photo."""
    idx, lv, grp = [], [], []
    types_by_photo: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if len(r.chain) == 1:
            types_by_photo[r["photo_id"]].add(r.chain[0][0])
    for i, r in enumerate(rows):
        if len(r.chain) == 1:
            idx.append(i), lv.append(r.chain[0][1]), grp.append(f"{r['photo_id']}|{r.chain[0][0]}")
        elif r["perc_key"] == "clean":
            for t in types_by_photo[r["photo_id"]]:
                idx.append(i), lv.append(0), grp.append(f"{r['photo_id']}|{t}")
    return idx, lv, grp


def aesthetic_pairs(rows: Sequence[Row]) -> list[tuple[int, int]]:
    """(clean, weak negative) index pairs of the same photo."""
    clean = defaultdict(list)
    for i, r in enumerate(rows):
        if r["perc_key"] == "clean":
            clean[r["photo_id"]].append(i)
    return [(c, i) for i, r in enumerate(rows) if r["text_origin"] == "aesthetic_negative"
            for c in clean[r["photo_id"]]]


@dataclass
class HeadChoice:
    metric: str
    model: QualityModel
    validation: dict[str, float]  # head variant -> validation score
    chosen: str
    attribute_validation: dict[str, dict[str, float]] | None = None  # head -> attribute -> SRCC


def tech_target(rows: Sequence[Row], column: str | None = None) -> torch.Tensor:
    """(N,) technical-quality target: the row's pseudo-MOS where the set has a `pseudo_mos` column (FR-ensemble
    score; NaN while unlabelled: no regression target for that row, its ladder pairs still rank it), else the
    derived `quality`; clean rows get 1. Never a mix of the two scales."""
    out = []
    for r in rows:
        col = column or ("pseudo_mos" if "pseudo_mos" in r.data else "quality")
        v = r.data[col]
        if not r.chain and r["perc_key"] == "clean":
            v = 1.0
        out.append(float("nan") if v is None else float(v))
    return torch.tensor(out, dtype=torch.float32)


def crop_key(row: Row) -> str:
    """The source crop of a row (ladders are per crop): `crop_id` where the set records it, else the photo."""
    c = row.data.get("crop_id")
    return str(c) if c not in (None, "") else str(row["photo_id"])


def row_ladders(rows: Sequence[Row]) -> Ladders:
    """Severity ladders (crop x type, level 0 = the clean crop) of manifest rows; rows that are neither clean
    nor distorted (aesthetic negatives) are in none."""
    return ladders_of([crop_key(r) if (r.chain or r["perc_key"] == "clean") else None for r in rows],
                      [r.chain for r in rows])


def _validate(metric: str, scores: np.ndarray, rows: Sequence[Row]) -> float:
    if metric == "tech":
        return tech_validation(scores, row_ladders(rows))
    pairs = aesthetic_pairs(rows)
    return float(np.mean([scores[a] > scores[b] for a, b in pairs])) if pairs else float("nan")


def tech_validation(scores: np.ndarray, lad: Ladders) -> float:
    """Mean within-ladder SRCC of scores (N,) over the ladders."""
    return within_group_summary(scores[lad.idx], lad.level, lad.group)["srcc"]


def attribute_validation(probs: np.ndarray, lad: Ladders, attributes: Sequence[str]) -> dict[str, float]:
    """attribute -> mean within-ladder SRCC of its P(good) over its own family's ladders."""
    out = {}
    for j, a in enumerate(attributes):
        own = lad.select_types(set(attribute_family(a)))
        out[a] = within_group_summary(probs[own.idx, j], own.level, own.group)["srcc"] if len(own.idx) else math.nan
    return out


def _flat_frames_embedded(declip: DeCLIP) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """(names, perceptual (F, P), backbone features (F, D_in)) of the flat frames."""
    names, x = flat_frames(256)
    with torch.no_grad():
        views = make_views(x, ViewPolicy("resize"), declip.backbone.info.preprocess)[:, 0]
        f = declip.features(views, checked=False)
        return names, declip.embed_features(f).perceptual, f


def train_heads(declip: DeCLIP, rows: Sequence[Row], perceptual: torch.Tensor, val_photos: set[str] | None = None,
                seed: int = 0, val_rows: Sequence[Row] | None = None, val_perceptual: torch.Tensor | None = None,
                fit_cfg: FitConfig | None = None, rank_weights: Sequence[float] = (0.0, 1.0, 3.0, 10.0),
                log=None, features: torch.Tensor | None = None, val_features: torch.Tensor | None = None,
                feature_cfg: FeatureFitConfig | None = None, rank_rows: Sequence[Row] = (),
                rank_features: torch.Tensor | None = None) -> dict[str, HeadChoice]:
    """Fit the heads on training rows and choose each metric's default on validation rows.

    Validation rows are `val_rows`/`val_perceptual` (a validation split of whole photos) or, when not
    given, the rows of `val_photos` taken out of `rows`. tech: zero-shot vs regression on the pseudo-MOS
    with ranking weights `rank_weights` (0 = regression only), chosen by mean within-ladder SRCC; the
    supervised attribute head vs the zero-shot anchors, chosen by mean per-attribute SRCC over each
    attribute's own family. aes: zero-shot vs regression on `aesthetic` (clean vs weak negative pairs).
    With `features` / `val_features` ((N, D_in) / (M, D_in) backbone features of the same rows, the
    disentangler's input) the tech candidates include a FeatureHead trained by ladder ranking
    ('features ranking') and the attribute candidates a FeatureAttributeHead ('features'); both need
    validation rows, not validation photos. `rank_rows` / `rank_features` ((K, D_in)) add their severity
    ladders to the FeatureHead's ranking pairs only (rows whose level 0 is not pristine, e.g. soft
    originals: no regression target, no attribute target).
    """
    log = log or (lambda msg: None)
    if val_rows is None:
        if not val_photos:
            raise ValueError("give validation rows or validation photos")
        fit = [i for i, r in enumerate(rows) if r["photo_id"] not in val_photos]
        val = [i for i, r in enumerate(rows) if r["photo_id"] in val_photos]
        if not fit or not val:
            raise ValueError(f"validation photos {sorted(val_photos)} leave no fit or no validation rows")
        val_rows, val_perceptual = [rows[i] for i in val], perceptual[val]
        rows, perceptual = [rows[i] for i in fit], perceptual[fit]
    elif val_perceptual is None or len(val_rows) != len(val_perceptual):
        raise ValueError("val_rows need val_perceptual of the same length")
    if features is not None and val_features is not None and (len(features) != len(rows)
                                                              or len(val_features) != len(val_rows)):
        raise ValueError("features / val_features need one row per training / validation row")
    if rank_rows and (features is None or rank_features is None or len(rank_features) != len(rank_rows)):
        raise ValueError("rank_rows need features and rank_features with one row per ranking row")
    fc = fit_cfg or FitConfig(seed=seed)
    lad_fit, lad_val = row_ladders(rows), row_ladders(val_rows)
    names, flat_p, flat_f = _flat_frames_embedded(declip)
    flat_tech, flat_attr = flat_frame_targets(names, TECH_ATTRIBUTES)
    emb = torch.cat([perceptual, flat_p])
    out: dict[str, HeadChoice] = {}

    # --- attributes (shared by both metrics' checkpoints)
    zs_attr = zero_shot_head(declip, "tech")
    chains = [r.chain for r in rows]
    tg = torch.from_numpy(np.concatenate([attribute_targets(chains, TECH_ATTRIBUTES), flat_attr]))
    pairs = [lad_fit.select_types(set(attribute_family(a))).pairs() for a in TECH_ATTRIBUTES]
    sup_attr = fit_attribute_head(emb, tg, pairs, TECH_ATTRIBUTES, dataclasses.replace(fc, hidden=64))
    attr_heads: dict[str, torch.nn.Module] = {"supervised": sup_attr, "zeroshot": zs_attr}
    with torch.no_grad():
        av = {"supervised": attribute_validation(sup_attr.attribute_probs(val_perceptual).numpy(), lad_val, TECH_ATTRIBUTES),
              "zeroshot": attribute_validation(zs_attr.attribute_probs(val_perceptual).numpy(), lad_val, TECH_ATTRIBUTES)}
    if features is not None and val_features is not None:
        # 15 epochs over row minibatches (the attribute fit sees every row each epoch; the v3 attribute head)
        fa = fit_feature_attribute_head(torch.cat([features, flat_f]), tg, pairs, TECH_ATTRIBUTES,
                                        dataclasses.replace(feature_cfg or FeatureFitConfig(seed=seed), epochs=15))
        attr_heads["features"] = fa
        with torch.no_grad():
            av["features"] = attribute_validation(fa.attribute_probs(val_features).numpy(), lad_val, TECH_ATTRIBUTES)
    mean_av = {k: float(np.nanmean(list(v.values()))) for k, v in av.items()}
    attr_chosen = max(mean_av, key=lambda k: -1.0 if math.isnan(mean_av[k]) else mean_av[k])
    attr_head = attr_heads[attr_chosen]
    log(f"attributes: validation SRCC per attribute {json.dumps(av)}; chosen {attr_chosen}")

    # --- tech
    y_rows = tech_target(rows)
    distorted = torch.tensor([bool(r.chain) for r in rows])
    labelled = float((~torch.isnan(y_rows[distorted])).float().mean()) if bool(distorted.any()) else 0.0
    if labelled < 0.5:  # pseudo-MOS not (yet) computed for most rows: the level-derived target instead
        log(f"tech: only {labelled:.0%} of distorted rows have a pseudo-MOS; regression on `quality` instead")
        y_rows = tech_target(rows, "quality")
    y = torch.cat([y_rows, torch.from_numpy(flat_tech)])
    b, w = lad_fit.pairs()
    # flat frames rank below every clean training crop (pairs across crops only here)
    clean_idx = torch.tensor([i for i, r in enumerate(rows) if not r.chain and r["perc_key"] == "clean"][:500],
                             dtype=torch.int64)
    flat_idx = torch.arange(len(rows), len(rows) + len(names))
    b = torch.cat([b, clean_idx.repeat_interleave(len(flat_idx))])
    w = torch.cat([w, flat_idx.repeat(len(clean_idx))])
    scores: dict[str, float] = {}
    heads: dict[str, torch.nn.Module] = {"zeroshot": zero_shot_head(declip, "tech")}
    for rw in rank_weights:
        heads[f"regression rank_weight={rw:g}"] = fit_tech_head(emb, y, b, w, dataclasses.replace(fc, rank_weight=rw))
    heads["ranking only"] = fit_tech_head(emb, y, b, w, dataclasses.replace(fc, rank_weight=1.0, regression_weight=0.0))
    with torch.no_grad():
        for k, h in heads.items():
            scores[k] = tech_validation(h(val_perceptual).numpy(), lad_val)
    if features is not None and val_features is not None:
        f_all = [features, flat_f]
        if rank_rows:  # their ladders, indexed after the training rows and the flat frames
            rb, rw_ = row_ladders(rank_rows).pairs()
            off = len(rows) + len(names)
            b, w = torch.cat([b, rb + off]), torch.cat([w, rw_ + off])
            f_all.append(rank_features)
            log(f"tech: {len(rank_rows)} ranking-only rows add {rb.numel()} ladder pairs to the feature head")
        fh, _ = fit_feature_head(torch.cat(f_all), b, w, val_features, lad_val,
                                 feature_cfg or FeatureFitConfig(seed=seed), log=log)
        heads["features ranking"] = fh
        with torch.no_grad():
            scores["features ranking"] = tech_validation(fh(val_features).numpy(), lad_val)
    chosen = max(scores, key=lambda k: -1.0 if math.isnan(scores[k]) else scores[k])
    log(f"tech: validation within-ladder SRCC {json.dumps(scores)}; chosen {chosen}")
    head_type = {"zeroshot": "zeroshot", "features ranking": "features"}.get(chosen, "regression")
    out["tech"] = HeadChoice("tech", QualityModel(declip, "tech", heads[chosen], attr_head, head_type).eval(),
                             scores, chosen, av)

    # --- aes (weak offline targets; see the module docstring). Validation needs (clean, weak negative) pairs:
    # when the validation rows have none (e.g. ladder-only validation photos), every fifth training photo
    # with pairs validates instead and the head is refitted on all training rows after the choice.
    sel = [i for i, r in enumerate(rows) if not math.isnan(r["aesthetic"])]
    zs = zero_shot_head(declip, "aes")
    a_rows, a_emb = val_rows, val_perceptual
    fit_sel = sel
    if not aesthetic_pairs(val_rows):
        with_pairs = sorted({rows[i]["photo_id"] for i, _ in aesthetic_pairs(rows)})
        hold = set(with_pairs[::5])
        a_idx = [i for i, r in enumerate(rows) if r["photo_id"] in hold]
        a_rows, a_emb = [rows[i] for i in a_idx], perceptual[a_idx]
        fit_sel = [i for i in sel if rows[i]["photo_id"] not in hold]
        log(f"aes: validation photos have no aesthetic pairs; validating on training photos {sorted(hold)}")
    a_scores: dict[str, float] = {}
    a_heads: dict[str, torch.nn.Module] = {"zeroshot": zs}
    if len(fit_sel) >= 2:
        ya = torch.tensor([rows[i]["aesthetic"] for i in fit_sel], dtype=torch.float32)
        a_heads["regression"] = fit_regression_head(perceptual[fit_sel], ya, seed=seed)
    with torch.no_grad():
        for k, h in a_heads.items():
            a_scores[k] = _validate("aes", h(a_emb).numpy(), a_rows)
    a_chosen = max(a_scores, key=lambda k: -1.0 if math.isnan(a_scores[k]) else a_scores[k])
    if a_chosen == "regression" and fit_sel != sel:
        ya = torch.tensor([rows[i]["aesthetic"] for i in sel], dtype=torch.float32)
        a_heads["regression"] = fit_regression_head(perceptual[sel], ya, seed=seed)
    log(f"aes: validation pair accuracy {json.dumps(a_scores)}; chosen {a_chosen}")
    out["aes"] = HeadChoice("aes", QualityModel(declip, "aes", a_heads[a_chosen], attr_head, a_chosen).eval(),
                            a_scores, a_chosen, av)
    return out


def write_head_run(out: Path, model: QualityModel, report: dict, training: str, description: str,
                   log: Callable[[str], None]) -> Path:
    """Save a trained head as <out>/iqa-<metric>.safetensors (its `.json` sidecar holds the command, the report as
    `validation` and the description that ship_weights puts in the weight tag) and the report as
    <out>/<metric>_report.json; returns the checkpoint path."""
    path = save_quality_head(out / f"iqa-{model.metric}.safetensors", model,
                             extra={"training": training, "validation": report, "description": description})
    rep = out / f"{model.metric}_report.json"
    rep.write_text(json.dumps(report, indent=2))
    log(f"wrote {path} and {rep}")
    return path
