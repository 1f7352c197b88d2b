"""Training loop of the disentangler on cached features; single process or torchrun (gloo/nccl).

Under torchrun every rank takes its slice of the same global batch, embeddings are all-gathered
with gradients, and the loss is computed on the whole global batch, so N processes reproduce one
process on the same global batch (tested with 2 CPU processes).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from declip_core.model import DisentanglerConfig, Disentangler
from declip_core.training.config import OptimConfig
from declip_core.training.losses import multi_positive_infonce, separation_loss
from declip_core.training.state import load_state, save_state
from declip_core.training.runtime import isolated_rng


@dataclass
class TrainArrays:
    """Everything one epoch needs, already in memory (or memory-mapped)."""

    feats: np.ndarray  # (N, D_in) projector input
    perc_text: np.ndarray  # (N, D_txt) frozen text features of each sample's perceptual text
    sem_text: np.ndarray  # (N, D_txt) of its semantic text
    perc_keys: np.ndarray  # (N,) int: samples with equal keys are perceptual positives
    sem_keys: np.ndarray  # (N,) int: content groups
    dist_keys: np.ndarray | None = None  # (N,) int: coarse perceptual class (clean / first distortion type)
    quality: np.ndarray | None = None  # (N,) float 0..1 technical-quality target (pseudo-MOS), NaN = none

    def __post_init__(self) -> None:
        n = len(self.feats)
        if self.dist_keys is None:
            self.dist_keys = np.asarray(self.perc_keys)
        if self.quality is None:
            self.quality = np.full(n, np.nan, dtype=np.float32)
        for name in ("perc_text", "sem_text", "perc_keys", "sem_keys", "dist_keys", "quality"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"TrainArrays.{name} has {len(getattr(self, name))} rows, feats has {n}")
        if n < 2:
            raise ValueError("need at least 2 training samples")


class _GradReverse(torch.autograd.Function):
    """Identity forward; gradient multiplied by -1 backward (adversarial training)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return -g


class _Step(nn.Module):
    """Forward of one local batch (what DDP wraps), with the training-only adversaries:
    a linear probe that tries to read content from the perceptual embedding and one that tries to
    read the distortion class from the semantic embedding, both behind gradient reversal; and a linear
    quality probe on the perceptual embedding (the quality signal, weight `quality_weight`)."""

    def __init__(self, model: Disentangler, n_content: int, n_dist: int) -> None:
        super().__init__()
        self.model = model
        self.adv_content = nn.Linear(model.cfg.perceptual_dim, n_content)
        self.adv_dist = nn.Linear(model.cfg.semantic_dim, n_dist)
        self.quality = nn.Linear(model.cfg.perceptual_dim, 1)

    def forward(self, f: torch.Tensor, tp: torch.Tensor, ts: torch.Tensor) -> tuple[torch.Tensor, ...]:
        e = self.model.embed_features(f)
        return (e.perceptual, e.semantic, self.model.embed_text_perceptual(tp), self.model.embed_text_semantic(ts),
                self.adv_content(_GradReverse.apply(e.perceptual)), self.adv_dist(_GradReverse.apply(e.semantic)),
                torch.sigmoid(self.quality(e.perceptual)).squeeze(-1), self.model.scale_p(), self.model.scale_s())


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _gather(x: torch.Tensor) -> torch.Tensor:
    rank, world = _world()
    if world == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)


def _lr(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def compute_losses(out: tuple[torch.Tensor, ...], pk: torch.Tensor, sk: torch.Tensor, dk: torch.Tensor,
                   ocfg: OptimConfig, quality: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """All loss terms on one (global) batch; quality (B,) targets with NaN = none (the quality term is 0
    without targets)."""
    p, s, tp, ts, adv_c, adv_d, q_pred, scale_p, scale_s = out
    lp = multi_positive_infonce(p, tp, pk, pk, scale_p)
    ls = multi_positive_infonce(s, ts, sk, sk, scale_s)
    lsep = separation_loss(p, s, ocfg.separation)
    # The adversaries minimise these; through gradient reversal the projectors maximise them.
    ladv = nn.functional.cross_entropy(adv_c, sk) + nn.functional.cross_entropy(adv_d, dk)
    linv = invariance_loss(p, pk, sk) + invariance_loss(s, sk, pk)
    has = ~torch.isnan(quality) if quality is not None else torch.zeros_like(q_pred, dtype=torch.bool)
    lq = ((q_pred - torch.nan_to_num(quality))[has] ** 2).mean() if bool(has.any()) else q_pred.sum() * 0.0
    total = (ocfg.perceptual_weight * lp + ocfg.semantic_weight * ls + ocfg.separation_weight * lsep
             + ocfg.adversary_weight * ladv + ocfg.invariance_weight * linv + ocfg.quality_weight * lq)
    return {"loss": total, "perceptual": lp, "semantic": ls, "separation": lsep, "adversary": ladv,
            "invariance": linv, "quality": lq}


def invariance_loss(e: torch.Tensor, same: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between embeddings that share `same` but differ in `other`:
    the perceptual embedding of one condition on two photos, or the semantic embedding of one
    photo under two conditions, should coincide."""
    m = (same.view(-1, 1) == same.view(1, -1)) & (other.view(-1, 1) != other.view(1, -1))  # (B, B)
    if not bool(m.any()):
        return e.sum() * 0.0
    d2 = torch.cdist(e, e).pow(2)  # (B, B)
    return d2[m].mean()


@isolated_rng
def train_disentangler(arrays: TrainArrays, dcfg: DisentanglerConfig, ocfg: OptimConfig, out_dir: str | Path,
                       seed: int = 0, progress: bool = False, resume: bool = True,
                       stop_after_epoch: int | None = None,
                       log: Callable[[dict[str, Any]], None] | None = None) -> Disentangler:
    """Train and return the disentangler; writes state.safetensors after each epoch for resume."""
    rank, world = _world()
    out = Path(out_dir)
    n = len(arrays.feats)
    gb = min(ocfg.batch_size, n)
    if gb % world:
        raise ValueError(f"global batch {gb} is not divisible by the {world} processes")
    lb = gb // world
    torch.manual_seed(seed)
    model = Disentangler(dcfg)
    feats = torch.from_numpy(np.ascontiguousarray(arrays.feats, dtype=np.float32))
    model.set_feature_stats(feats.mean(0), feats.std(0))
    n_content = int(np.max(arrays.sem_keys)) + 1
    n_dist = int(np.max(arrays.dist_keys)) + 1
    torch.manual_seed(seed + 1)
    stepper = _Step(model, n_content, n_dist)
    step_mod: nn.Module = stepper
    if world > 1:
        step_mod = nn.parallel.DistributedDataParallel(stepper)
    decay = [p for nme, p in stepper.named_parameters() if p.ndim >= 2]
    no_decay = [p for nme, p in stepper.named_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": ocfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if ocfg.optimizer == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=ocfg.lr)
    elif ocfg.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=ocfg.lr, momentum=0.9)
    else:
        raise ValueError(f"unknown optimizer {ocfg.optimizer!r}; use 'adamw' or 'sgd'")
    steps_per_epoch = n // gb
    total = steps_per_epoch * ocfg.epochs
    state_path = out / "state.safetensors"
    start_epoch = 0
    if resume and state_path.is_file():
        meta = load_state(state_path, stepper, opt)
        start_epoch = int(meta["epoch"]) + 1
    tp_all = torch.from_numpy(np.ascontiguousarray(arrays.perc_text, dtype=np.float32))
    ts_all = torch.from_numpy(np.ascontiguousarray(arrays.sem_text, dtype=np.float32))
    pk_all = torch.from_numpy(np.asarray(arrays.perc_keys, dtype=np.int64))
    sk_all = torch.from_numpy(np.asarray(arrays.sem_keys, dtype=np.int64))
    dk_all = torch.from_numpy(np.asarray(arrays.dist_keys, dtype=np.int64))
    q_all = torch.from_numpy(np.asarray(arrays.quality, dtype=np.float32))
    metrics_f = out / "metrics.jsonl"
    for epoch in range(start_epoch, ocfg.epochs):
        model.train()
        perm = np.random.default_rng(seed * 100_003 + epoch).permutation(n)
        torch.manual_seed(seed * 100_003 + epoch * 101 + rank)
        it = range(steps_per_epoch)
        if progress and rank == 0:
            from tqdm import tqdm

            it = tqdm(it, desc=f"epoch {epoch + 1}/{ocfg.epochs}", unit="step", leave=False)
        sums: dict[str, float] = {}
        t0 = time.time()
        for b in it:
            step = epoch * steps_per_epoch + b
            for g in opt.param_groups:
                g["lr"] = _lr(step, total, ocfg.lr, ocfg.warmup_steps)
            gidx = perm[b * gb : (b + 1) * gb]
            idx = torch.from_numpy(gidx[rank * lb : (rank + 1) * lb])
            o = step_mod(feats[idx], tp_all[idx], ts_all[idx])
            o = tuple(_gather(x) for x in o[:7]) + tuple(o[7:])
            gi = torch.from_numpy(gidx)
            losses = compute_losses(o, pk_all[gi], sk_all[gi], dk_all[gi], ocfg, q_all[gi])
            opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            opt.step()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
        rec = {"epoch": epoch + 1, **{k: v / max(1, steps_per_epoch) for k, v in sums.items()},
               "temperature_p": float(1 / model.scale_p().detach()), "seconds": round(time.time() - t0, 3)}
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
            with open(metrics_f, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            save_state(state_path, stepper, opt, {"epoch": epoch})
            if log:
                log(rec)
        if world > 1:
            dist.barrier()
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
            break
    model.eval()
    return model
