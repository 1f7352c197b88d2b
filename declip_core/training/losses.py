"""Losses: multi-positive InfoNCE for image<->text alignment and a separation term that keeps
the perceptual and semantic image embeddings apart.

Separation choice: the cross-covariance penalty (XCov, Cheung et al. 2015) between batch-
standardised perceptual and semantic embeddings. It is O(B·P·S), needs no kernel bandwidth, and
is zero exactly when every perceptual coordinate is linearly uncorrelated with every semantic one.
An RBF-kernel HSIC (catches non-linear dependence, O(B²), bandwidth by the median heuristic) is
offered for comparison; "none" ablates the term (see docs/disentangler.md for the measured effect).
"""
from __future__ import annotations

import torch


def positive_mask(row_keys: torch.Tensor, col_keys: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: row i and column j share a key (several positives where texts repeat)."""
    return row_keys.view(-1, 1) == col_keys.view(1, -1)


def multi_positive_infonce(img: torch.Tensor, txt: torch.Tensor, img_keys: torch.Tensor,
                           txt_keys: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE where every pair with equal keys is a positive.

    img: (B, D), txt: (T, D) L2-normalised; keys: (B,), (T,) integer group ids.
    Each row's loss is -log(sum of softmax mass on its positives); rows without a positive are skipped.
    """
    if img.ndim != 2 or txt.ndim != 2 or img.shape[1] != txt.shape[1]:
        raise ValueError(f"expected (B, D) and (T, D) embeddings, got {tuple(img.shape)} and {tuple(txt.shape)}")
    logits = scale * img @ txt.T  # (B, T)
    pos = positive_mask(img_keys, txt_keys)  # (B, T)

    def one_side(lg: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        has = m.any(dim=1)
        if not bool(has.any()):
            return lg.sum() * 0.0
        lse_all = torch.logsumexp(lg, dim=1)
        lse_pos = torch.logsumexp(lg.masked_fill(~m, float("-inf")), dim=1)
        return (lse_all - lse_pos)[has].mean()

    return 0.5 * (one_side(logits, pos) + one_side(logits.T, pos.T))


def _standardise(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean(0, keepdim=True)) / (x.std(0, unbiased=False, keepdim=True) + 1e-5)


def xcov_loss(p: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Mean squared cross-correlation between the coordinates of p (B, P) and s (B, S)."""
    if p.shape[0] != s.shape[0] or p.shape[0] < 2:
        raise ValueError(f"xcov needs two batches of equal size >= 2, got {p.shape[0]} and {s.shape[0]}")
    c = _standardise(p).T @ _standardise(s) / p.shape[0]  # (P, S) correlation matrix
    return (c**2).mean()


def _rbf(x: torch.Tensor) -> torch.Tensor:
    d2 = torch.cdist(x, x).pow(2)
    med = d2.detach()[d2.detach() > 0].median() if bool((d2 > 0).any()) else d2.new_tensor(1.0)
    return torch.exp(-d2 / (med + 1e-8))


def hsic_loss(p: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Normalised RBF-kernel HSIC between p (B, P) and s (B, S), in 0..1."""
    n = p.shape[0]
    if n < 4:
        raise ValueError(f"HSIC needs a batch of at least 4, got {n}")
    h = torch.eye(n, device=p.device) - 1.0 / n
    k, l_ = h @ _rbf(p) @ h, h @ _rbf(s) @ h
    return (k * l_).sum() / (k.norm() * l_.norm() + 1e-8)


def separation_loss(p: torch.Tensor, s: torch.Tensor, kind: str) -> torch.Tensor:
    """'xcov' (default), 'hsic' or 'none'."""
    if kind == "xcov":
        return xcov_loss(p, s)
    if kind == "hsic":
        return hsic_loss(p, s)
    if kind == "none":
        return p.sum() * 0.0
    raise ValueError(f"unknown separation loss {kind!r}; use 'xcov', 'hsic' or 'none'")
