"""Fitting declip_tech's GridHead: per-cell scores of a fragment mosaic, pooled, trained by ladder ranking.

Input: per-cell features (N, C, D) of the training images' `fragments` views (declip_core.inference.DeCLIP.
grid_features; float16 is fine to store), (better, worse) row pairs inside severity ladders (uniform and
region-limited: declip_core.training.tech_data). The cells are standardised (mean and std over a sample of
training cells) and projected to `proj_dim` by PCA of that sample (torch.pca_lowrank), both fixed buffers; each
ensemble member (an MLP per cell, seed cfg.seed + k) is trained with the logistic ranking loss on the pooled
image score (mean of its cell scores), minibatches of pairs, dropout on the projected cells, AdamW with a cosine
decay; the epoch with the best within-ladder SRCC on the validation ladders is kept. The pooling temperature is
and the blend with the whole-view FeatureHead are then chosen on validation (`choose_pooling`).
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from declip_core.iqa.heads import GridHead
from declip_core.training.config import FeatureFitConfig
from declip_core.training.quality_fit import Ladders
from declip_core.training.ranking import ranking_loss, within_group_summary

POOL_TAUS: tuple[float, ...] = (math.inf, 0.2, 0.1, 0.05, 0.03)  # candidates; inf = the plain mean


def grid_scores(head: GridHead, x: torch.Tensor, chunk: int = 512) -> np.ndarray:
    """(N,) image scores of a GridHead on x (N, 1 + C, D) (any float dtype), in chunks."""
    local = x
    with torch.no_grad():
        return torch.cat([head(c.float()) for c in local.split(chunk)]).numpy()


def _val_srcc(head: GridHead, val_local: torch.Tensor, val_lad: Ladders) -> dict[str, float]:
    return within_group_summary(grid_scores(head, val_local)[val_lad.idx], val_lad.level, val_lad.group)


def init_grid_head(cells: torch.Tensor, proj_dim: int = 256, hidden: int = 128, sample_rows: int = 2000,
                   seed: int = 0) -> GridHead:
    """A GridHead whose standardisation and PCA projection come from a sample of training cells (N, C, D)."""
    local = cells
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        rows = torch.randperm(local.shape[0])[:sample_rows]
        cells = local[rows].float().flatten(0, 1)  # (n * C, D)
        head = GridHead(local.shape[2], proj_dim=proj_dim, hidden=hidden)
        with torch.no_grad():
            head.mean.copy_(cells.mean(0))
            head.std.copy_(cells.std(0).clamp_min(1e-6))
            _, _, v = torch.pca_lowrank((cells - head.mean) / head.std, q=proj_dim, center=False)
            head.proj.copy_(v[:, :proj_dim])
    return head


def project_cells(head: GridHead, local: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """(N, C, D) cells (any float dtype) -> (N, C, proj_dim) float32 through head's fixed standardisation and
    projection (computed once: the members train on these)."""
    with torch.no_grad():
        return torch.cat([head.project(c.float()) for c in local.split(chunk)])


def _pooled(head: GridHead, z: torch.Tensor, chunk: int = 1024) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([head.pool(head.cell_scores_projected(c)) for c in z.split(chunk)]).numpy()


def fit_grid_member(base: GridHead, z: torch.Tensor, better: torch.Tensor, worse: torch.Tensor,
                    val_z: torch.Tensor, val_lad: Ladders, cfg: FeatureFitConfig,
                    log: Callable[[str], None] | None = None) -> torch.nn.Module:
    """One member (an MLP on projected cells, seed cfg.seed) trained on projected cells z (N, C, proj_dim)
    and validated on val_z (M, C, proj_dim) with `base`'s pooling; returns the member's network."""
    if better.numel() == 0 or len(val_lad.idx) == 0 or cfg.epochs < 1:
        raise ValueError(f"need ranking pairs, validation ladders and epochs >= 1; got {better.numel()} pairs, "
                         f"{len(val_lad.idx)} ladder rows, {cfg.epochs} epochs")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        head = copy.deepcopy(base)
        head.nets = torch.nn.ModuleList([torch.nn.Sequential(
            torch.nn.Linear(head.proj.shape[1], cfg.hidden), torch.nn.GELU(), torch.nn.Linear(cfg.hidden, 1))])
        opt = torch.optim.AdamW(head.nets.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps = cfg.epochs * -(-better.numel() // cfg.batch_pairs)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        best, best_state = -2.0, copy.deepcopy(head.nets.state_dict())
        for epoch in range(1, cfg.epochs + 1):
            head.train()
            perm = torch.randperm(better.numel())
            for k in range(0, better.numel(), cfg.batch_pairs):
                sel = perm[k: k + cfg.batch_pairs]
                ids, inv = torch.unique(torch.cat([better[sel], worse[sel]]), return_inverse=True)
                zz = torch.nn.functional.dropout(z[ids], cfg.dropout, training=True)
                s = head.cell_scores_projected(zz).mean(dim=1)  # (n,) pooled by the mean while training
                loss = ranking_loss(s, inv[: len(sel)], inv[len(sel):], cfg.margin, cfg.temperature)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            head.eval()
            v = within_group_summary(_pooled(head, val_z)[val_lad.idx], val_lad.level, val_lad.group)
            if log:
                log(f"grid head epoch {epoch}: loss {float(loss.detach()):.4f} val SRCC {v['srcc']:.3f} 2AFC {v['2afc']:.3f}")
            if v["srcc"] > best:
                best, best_state = v["srcc"], copy.deepcopy(head.nets.state_dict())
        head.nets.load_state_dict(best_state)
    return head.nets[0].eval()


def fit_grid_head(x: torch.Tensor, better: torch.Tensor, worse: torch.Tensor, val_x: torch.Tensor,
                  val_lad: Ladders, cfg: FeatureFitConfig = FeatureFitConfig(), proj_dim: int = 256,
                  whole_cfg: FeatureFitConfig | None = None, log: Callable[[str], None] | None = None) -> GridHead:
    """GridHead from x (N, 1 + C, D) (row 0 the whole view's features, then its cells) and val_x (M, 1 + C, D):
    cfg.members cell members (seeds cfg.seed + k) on one standardisation and projection, the whole-view
    FeatureHead (declip_core.training.quality_fit.fit_feature_head, `whole_cfg`), then pool_tau and
    whole_weight chosen on the validation ladders. Raises ValueError without pairs or validation ladders."""
    from declip_core.training.quality_fit import fit_feature_head

    if x.ndim != 3 or val_x.ndim != 3 or x.shape[1] < 2:
        raise ValueError(f"need features (N, 1 + C, D), got {tuple(x.shape)} and {tuple(val_x.shape)}")
    base = init_grid_head(x[:, 1:], proj_dim=proj_dim, hidden=cfg.hidden, seed=cfg.seed)
    z, val_z = project_cells(base, x[:, 1:]), project_cells(base, val_x[:, 1:])
    nets = []
    for k in range(cfg.members):
        if log and cfg.members > 1:
            log(f"grid head member {k + 1}/{cfg.members}")
        nets.append(fit_grid_member(base, z, better, worse, val_z, val_lad,
                                    FeatureFitConfig(**{**cfg.__dict__, "seed": cfg.seed + k}), log))
    whole, _ = fit_feature_head(x[:, 0].float(), better, worse, val_x[:, 0].float(), val_lad,
                                whole_cfg or FeatureFitConfig(epochs=cfg.epochs, seed=cfg.seed), log)
    head = GridHead(x.shape[2], proj_dim=proj_dim, hidden=cfg.hidden, members=len(nets),
                    whole_members=len(whole.nets))
    head.load_state_dict({"mean": base.mean, "std": base.std, "proj": base.proj, "pool_tau": base.pool_tau,
                          "whole_weight": base.whole_weight,
                          **{f"nets.{i}.{k}": v for i, n in enumerate(nets) for k, v in n.state_dict().items()},
                          **{f"whole.{k}": v for k, v in whole.state_dict().items()}})
    choose_pooling(head, val_x, val_lad, log=log)
    for p in head.parameters():
        p.requires_grad_(False)
    return head.eval()


WHOLE_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


def choose_pooling(head: GridHead, val_x: torch.Tensor, val_lad: Ladders, taus: Sequence[float] = POOL_TAUS,
                   weights: Sequence[float] = WHOLE_WEIGHTS, log: Callable[[str], None] | None = None
                   ) -> tuple[float, float]:
    """Set head.pool_tau and head.whole_weight to the pair with the best validation within-ladder SRCC (ties: the
    first: the mean pooling, the smaller whole weight); returns them."""
    best, choice = -2.0, (taus[0], weights[0])
    for tau in taus:
        for wt in weights:
            head.pool_tau.fill_(tau)
            head.whole_weight.fill_(wt)
            v = _val_srcc(head, val_x, val_lad)
            if log:
                log(f"pool_tau {tau}, whole_weight {wt}: val SRCC {v['srcc']:.3f} 2AFC {v['2afc']:.3f}")
            if v["srcc"] > best + 1e-9:
                best, choice = v["srcc"], (tau, wt)
    head.pool_tau.fill_(choice[0])
    head.whole_weight.fill_(choice[1])
    return choice
