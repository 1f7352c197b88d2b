"""Fitting the technical-quality head and the per-attribute head on perceptual embeddings.

tech head: regression on a pseudo opinion score (full-reference ensemble against the pristine source,
calibrated across types; see the data build) plus a RankIQA-style ranking loss over severity ladders
(one crop, one type, levels 0..5), so the score is both on a common scale and ordered within a ladder.

attribute head: one P(good) per technical attribute (sharpness, noise, exposure, colour, contrast,
compression). The family of an attribute is the set of distortion types whose `attribute` is it
(declip_core.training.data.distortions registry). Target: 1 when no applied distortion touches the attribute,
`1 - 0.18 * level` (0.82 .. 0.10) for the worst applied step of its family, plus a ranking loss over
that family's ladders. Flat frames (black, white, grey, single colours) are added with the values a
person would give them: no contrast, no detail, no noise, no compression; badly exposed when black or
white.

Full-batch AdamW; fits are small (N x 64 inputs) and run in seconds.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from declip_core.iqa.heads import AttributeHead, FeatureAttributeHead, FeatureHead, RegressionHead
from declip_core.training.config import FeatureFitConfig
from declip_core.training.ranking import ladder_pairs, ranking_loss, within_group_summary

TECH_ATTRIBUTES: tuple[str, ...] = ("sharpness", "noise", "exposure", "colour", "contrast", "compression")
LEVEL_STEP = 0.18  # attribute target 1 - LEVEL_STEP * level


def attribute_family(attribute: str) -> tuple[str, ...]:
    """Distortion types whose registry attribute is `attribute` (its own family)."""
    from declip_core.training.data.distortions import DISTORTIONS

    fam = tuple(n for n, s in DISTORTIONS.items() if s.attribute == attribute)
    if not fam:
        raise ValueError(f"no distortion type degrades attribute {attribute!r}")
    return fam


def attribute_targets(chains: Sequence[Sequence[tuple[str, int]]], attributes: Sequence[str] = TECH_ATTRIBUTES
                      ) -> np.ndarray:
    """(N, A) float32 targets in 0..1: 1 - LEVEL_STEP * (worst level of the attribute's family in the chain),
    1 where the chain has none of it."""
    fam = {a: set(attribute_family(a)) for a in attributes}
    out = np.ones((len(chains), len(attributes)), dtype=np.float32)
    for i, chain in enumerate(chains):
        for j, a in enumerate(attributes):
            lv = [int(level) for name, level in chain if name in fam[a]]
            if lv:
                out[i, j] = 1.0 - LEVEL_STEP * max(lv)
    return out


@dataclass(frozen=True)
class Ladders:
    """Ladder membership of rows: group id and level per row (rows outside any ladder are left out).

    A clean row is level 0 of every ladder of its crop. idx indexes the original rows; one row may
    appear several times (a clean crop in each of its types' ladders)."""

    idx: np.ndarray  # (M,) row index
    level: np.ndarray  # (M,)
    group: list[str]  # (M,) 'crop|type'
    type: list[str]  # (M,)

    def select_types(self, types: set[str]) -> "Ladders":
        keep = [k for k, t in enumerate(self.type) if t in types]
        return Ladders(self.idx[keep], self.level[keep], [self.group[k] for k in keep], [self.type[k] for k in keep])

    def pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(better, worse) row-index pairs within ladders."""
        b, w = ladder_pairs(self.group, self.level.tolist())
        t = torch.from_numpy(self.idx)
        return t[b], t[w]


def ladders_of(crops: Sequence[Hashable | None], chains: Sequence[Sequence[tuple[str, int]]]) -> Ladders:
    """Ladders of rows given each row's crop key and distortion chain: single-distortion rows are level L of
    'crop|type'; clean rows (empty chain) are level 0 of every type seen on their crop; combined
    distortions and rows whose crop key is None belong to no ladder."""
    types_of: dict[Hashable, set[str]] = {}
    for c, ch in zip(crops, chains):
        if c is not None and len(ch) == 1:
            types_of.setdefault(c, set()).add(ch[0][0])
    idx, lv, grp, typ = [], [], [], []
    for i, (c, ch) in enumerate(zip(crops, chains)):
        if c is None:
            continue
        if len(ch) == 1:
            idx.append(i), lv.append(int(ch[0][1])), grp.append(f"{c}|{ch[0][0]}"), typ.append(ch[0][0])
        elif len(ch) == 0:
            for t in sorted(types_of.get(c, ())):
                idx.append(i), lv.append(0), grp.append(f"{c}|{t}"), typ.append(t)
    return Ladders(np.asarray(idx, dtype=np.int64), np.asarray(lv, dtype=np.int64), grp, typ)


@dataclass
class FitConfig:
    """Hyper-parameters of a head fit (chosen on validation photos, see docs/iqa.md)."""

    epochs: int = 600
    lr: float = 3e-3
    weight_decay: float = 1e-4
    hidden: int = 128
    rank_weight: float = 1.0  # weight of the ladder ranking loss next to the regression loss
    regression_weight: float = 1.0
    margin: float = 0.02
    temperature: float = 0.05
    seed: int = 0
    extra: dict = field(default_factory=dict)


def _init(module_fn, seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return module_fn()


def fit_tech_head(emb: torch.Tensor, target: torch.Tensor, better: torch.Tensor, worse: torch.Tensor,
                  cfg: FitConfig = FitConfig()) -> RegressionHead:
    """RegressionHead on emb (N, P) with MSE to target (N,) in 0..1 (NaN = no target for that row) plus
    cfg.rank_weight x ranking loss over the (better, worse) index pairs."""
    if emb.ndim != 2 or target.shape != (emb.shape[0],):
        raise ValueError(f"need emb (N, P) and target (N,), got {tuple(emb.shape)} and {tuple(target.shape)}")
    has = ~torch.isnan(target)
    if not bool(has.any()) and better.numel() == 0:
        raise ValueError("no regression target and no ranking pair: nothing to fit")
    head = _init(lambda: RegressionHead(emb.shape[1], hidden=cfg.hidden), cfg.seed)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    y = torch.nan_to_num(target)
    for _ in range(cfg.epochs):
        opt.zero_grad()
        s = head(emb)
        loss = cfg.rank_weight * ranking_loss(s, better, worse, cfg.margin, cfg.temperature)
        if bool(has.any()):
            loss = loss + cfg.regression_weight * ((s - y)[has] ** 2).mean()
        loss.backward()
        opt.step()
    return head.eval()


def fit_feature_head(feats: torch.Tensor, better: torch.Tensor, worse: torch.Tensor, val_feats: torch.Tensor,
                     val_lad: Ladders, cfg: FeatureFitConfig = FeatureFitConfig(),
                     log: Callable[[str], None] | None = None) -> tuple[FeatureHead, list[dict[str, float]]]:
    """FeatureHead of `cfg.members` members, each fitted by `fit_feature_member` with seed cfg.seed + k
    (an ensemble over seeds: the fits differ by initialisation, pair order and dropout). Returns (head in
    eval mode, per-epoch history of every member, each entry with its `member`)."""
    members, history = [], []
    for k in range(cfg.members):
        if log and cfg.members > 1:
            log(f"feature head member {k + 1}/{cfg.members}")
        h, hist = fit_feature_member(feats, better, worse, val_feats, val_lad,
                                     replace(cfg, seed=cfg.seed + k), log)
        members.append(h)
        history += [{"member": k, **e} for e in hist]
    head = FeatureHead.ensemble(members)
    for p in head.parameters():
        p.requires_grad_(False)
    return head.eval(), history


def fit_feature_member(feats: torch.Tensor, better: torch.Tensor, worse: torch.Tensor, val_feats: torch.Tensor,
                       val_lad: Ladders, cfg: FeatureFitConfig = FeatureFitConfig(),
                       log: Callable[[str], None] | None = None) -> tuple[FeatureHead, list[dict[str, float]]]:
    """One-member FeatureHead on backbone features (N, D_in) with the ladder ranking loss over the (better, worse) index
    pairs, minibatches of pairs, dropout on the standardised features, AdamW with a cosine learning-rate
    decay to 0 over the run; the epoch with the best mean
    within-ladder SRCC on the validation ladders (val_feats (M, D_in), val_lad) is kept.

    Returns (head in eval mode, per-epoch history). Raises ValueError without pairs or validation ladders."""
    if feats.ndim != 2 or better.numel() == 0 or len(val_lad.idx) == 0 or cfg.epochs < 1:
        raise ValueError(f"need features (N, D), ranking pairs, validation ladders and epochs >= 1; got "
                         f"{tuple(feats.shape)}, {better.numel()} pairs, {len(val_lad.idx)} ladder rows, {cfg.epochs}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        head = FeatureHead(feats.shape[1], hidden=cfg.hidden)
        head.set_standardisation(feats)
        opt = torch.optim.AdamW(head.nets[0].parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps = cfg.epochs * -(-better.numel() // cfg.batch_pairs)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)  # decays to 0: late epochs settle
        best, best_state, history = -2.0, copy.deepcopy(head.state_dict()), []
        for epoch in range(1, cfg.epochs + 1):
            head.train()
            perm = torch.randperm(better.numel())
            for k in range(0, better.numel(), cfg.batch_pairs):
                sel = perm[k : k + cfg.batch_pairs]
                ids, inv = torch.unique(torch.cat([better[sel], worse[sel]]), return_inverse=True)
                z = torch.nn.functional.dropout(head.standardise(feats[ids]), cfg.dropout, training=True)
                s = torch.sigmoid(head.nets[0](z)).squeeze(-1)
                loss = ranking_loss(s, inv[: len(sel)], inv[len(sel) :], cfg.margin, cfg.temperature)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            head.eval()
            with torch.no_grad():
                v = within_group_summary(head(val_feats).numpy()[val_lad.idx], val_lad.level, val_lad.group)
            history.append({"epoch": epoch, "loss": float(loss.detach()), "val_srcc": v["srcc"], "val_2afc": v["2afc"]})
            if log:
                log(f"feature head epoch {epoch}: loss {float(loss.detach()):.4f} val SRCC {v['srcc']:.3f} "
                    f"2AFC {v['2afc']:.3f}")
            if v["srcc"] > best:
                best, best_state = v["srcc"], copy.deepcopy(head.state_dict())
        head.load_state_dict(best_state)
        for p in head.parameters():
            p.requires_grad_(False)
        return head.eval(), history


def fit_feature_attribute_head(feats: torch.Tensor, targets: torch.Tensor,
                               pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
                               attributes: Sequence[str] = TECH_ATTRIBUTES, cfg: FeatureFitConfig = FeatureFitConfig(),
                               batches: int = 10) -> FeatureAttributeHead:
    """FeatureAttributeHead on backbone features (N, D_in): per attribute, MSE of P(good) to targets[:, a]
    (N, A; NaN = no target) plus the ranking loss over pairs[a] = (better, worse) of that attribute's family
    ladders (the pairs whose two rows fall in the same minibatch), `batches` minibatches of rows per epoch,
    dropout cfg.dropout on the standardised features, AdamW with a cosine decay over cfg.epochs.
    Raises ValueError on mismatched shapes."""
    if targets.shape != (feats.shape[0], len(attributes)) or len(pairs) != len(attributes) or batches < 1:
        raise ValueError(f"need targets ({feats.shape[0]}, {len(attributes)}), {len(attributes)} pair sets and "
                         f"batches >= 1, got {tuple(targets.shape)}, {len(pairs)}, {batches}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        head = FeatureAttributeHead(attributes, feats.shape[1], hidden=cfg.hidden)
        head.set_standardisation(feats)
        opt = torch.optim.AdamW(head.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * batches)
        has, y = ~torch.isnan(targets), torch.nan_to_num(targets)
        n = feats.shape[0]
        for _ in range(cfg.epochs):
            head.train()
            perm = torch.randperm(n)
            for k in range(batches):
                idx = perm[k::batches]
                pos = torch.full((n,), -1, dtype=torch.long)
                pos[idx] = torch.arange(len(idx))
                z = torch.nn.functional.dropout(head.standardise(feats[idx]), cfg.dropout, training=True)
                p = torch.sigmoid(head.net(z))  # (b, A)
                loss = ((p - y[idx]) ** 2)[has[idx]].mean()
                for a, (b, w) in enumerate(pairs):
                    m = (pos[b] >= 0) & (pos[w] >= 0)
                    if bool(m.any()):
                        loss = loss + ranking_loss(p[:, a], pos[b[m]], pos[w[m]], cfg.margin, cfg.temperature) / len(pairs)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        for q in head.parameters():
            q.requires_grad_(False)
        return head.eval()


def fit_attribute_head(emb: torch.Tensor, targets: torch.Tensor, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
                       attributes: Sequence[str] = TECH_ATTRIBUTES, cfg: FitConfig = FitConfig()) -> AttributeHead:
    """AttributeHead on emb (N, P): per attribute, MSE of P(good) to targets[:, a] (N, A; NaN = no target)
    plus cfg.rank_weight x ranking loss over pairs[a] = (better, worse) of that attribute's family ladders."""
    if targets.shape != (emb.shape[0], len(attributes)) or len(pairs) != len(attributes):
        raise ValueError(f"need targets ({emb.shape[0]}, {len(attributes)}) and {len(attributes)} pair sets, "
                         f"got {tuple(targets.shape)} and {len(pairs)}")
    head = _init(lambda: AttributeHead(attributes, emb.shape[1], hidden=cfg.hidden), cfg.seed)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    has = ~torch.isnan(targets)
    y = torch.nan_to_num(targets)
    for _ in range(cfg.epochs):
        opt.zero_grad()
        p = head.attribute_probs(emb)  # (N, A)
        loss = cfg.regression_weight * ((p - y)[has] ** 2).mean()
        for a, (b, w) in enumerate(pairs):
            loss = loss + cfg.rank_weight * ranking_loss(p[:, a], b, w, cfg.margin, cfg.temperature) / len(pairs)
        loss.backward()
        opt.step()
    return head.eval()


# ----------------------------------------------------------------------------- flat frames
FLAT_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0), "near_black": (8, 8, 8), "white": (255, 255, 255), "near_white": (248, 248, 248),
    "grey": (128, 128, 128), "dark_grey": (64, 64, 64), "light_grey": (192, 192, 192),
    "red": (200, 30, 30), "green": (30, 160, 40), "blue": (30, 50, 190), "sky": (120, 170, 230),
    "skin": (220, 180, 150),
}


def flat_frames(size: int = 256) -> tuple[list[str], torch.Tensor]:
    """(names, (F, 3, size, size) float 0..1) single-colour frames."""
    names = list(FLAT_COLOURS)
    x = torch.tensor([FLAT_COLOURS[n] for n in names], dtype=torch.float32) / 255.0
    return names, x.view(-1, 3, 1, 1).expand(-1, 3, size, size).contiguous()


def flat_frame_targets(names: Sequence[str], attributes: Sequence[str] = TECH_ATTRIBUTES) -> tuple[np.ndarray, np.ndarray]:
    """((F,) tech targets, (F, A) attribute targets; NaN = no opinion) for flat frames.

    A flat frame has no contrast, no detail (sharpness 0), no noise and no compression artefacts (1);
    exposure is bad (0) for black/white and near-black/near-white, no opinion otherwise; colour: no opinion.
    Its technical quality is low (0.05): nothing in it can be seen."""
    val = {"contrast": 0.0, "sharpness": 0.0, "noise": 1.0, "compression": 1.0, "colour": math.nan}
    a = np.full((len(names), len(attributes)), np.nan, dtype=np.float32)
    for i, n in enumerate(names):
        for j, att in enumerate(attributes):
            if att == "exposure":
                a[i, j] = 0.0 if n in ("black", "near_black", "white", "near_white") else math.nan
            else:
                a[i, j] = val.get(att, math.nan)
    return np.full(len(names), 0.05, dtype=np.float32), a
