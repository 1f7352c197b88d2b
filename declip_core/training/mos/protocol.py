"""IQA correlation metrics and the usual evaluation protocols.

* SRCC (Spearman), KRCC (Kendall tau-b) and PLCC (Pearson) -- PLCC by default
  after the 4-parameter logistic mapping of VQEG (2000):
  ``f(x) = b2 + (b1 - b2) / (1 + exp(-(x - b3) / |b4|))``, fitted by
  least squares (``scipy.optimize.curve_fit``).  If the fit fails or is
  degenerate, PLCC falls back to the linear Pearson correlation of the raw
  predictions and :class:`Scores` records ``logistic_ok=False``.
* Intra-dataset: ``n_splits`` random 80/20 splits (optionally grouped, e.g. by
  reference image for synthetic datasets), median of each metric.
* Cross-dataset: train on one dataset, test on each of the others.

Degenerate inputs (constant predictions or targets) give ``nan`` correlations
rather than a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

TrainAndPredict = Callable[[np.ndarray, np.ndarray], np.ndarray]
CrossTrainAndPredict = Callable[[str, Sequence[str]], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Scores:
    """Correlations of one prediction set with its targets.

    ``logistic_ok`` is False when the logistic PLCC was asked for but the fit
    failed, so ``plcc`` is the linear Pearson correlation instead.
    """

    srcc: float
    plcc: float
    krcc: float
    logistic_ok: bool


@dataclass(frozen=True)
class ProtocolResult:
    """Medians over the random splits, and the per-split scores."""

    median_srcc: float
    median_plcc: float
    median_krcc: float
    per_split: tuple[Scores, ...]


def _pair(pred: object, target: object) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-D float arrays of equal length >= 2."""
    p = np.asarray(pred, dtype=float).ravel()
    t = np.asarray(target, dtype=float).ravel()
    if p.shape != t.shape:
        raise ValueError(f"pred has {p.size} values but target has {t.size}")
    if p.size < 2:
        raise ValueError(f"need at least 2 values to correlate, got {p.size}")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(t))):
        raise ValueError("pred and target must be finite (found nan or inf)")
    return p, t


def _degenerate(p: np.ndarray, t: np.ndarray) -> bool:
    return bool(np.ptp(p) == 0 or np.ptp(t) == 0)


def srcc(pred: object, target: object) -> float:
    """Spearman rank correlation; nan if either side is constant."""
    p, t = _pair(pred, target)
    return float("nan") if _degenerate(p, t) else float(stats.spearmanr(p, t).statistic)


def krcc(pred: object, target: object) -> float:
    """Kendall rank correlation (tau-b); nan if either side is constant."""
    p, t = _pair(pred, target)
    return float("nan") if _degenerate(p, t) else float(stats.kendalltau(p, t).statistic)


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """The VQEG 4-parameter logistic, written with ``expit`` to avoid overflow."""
    return b2 + (b1 - b2) * special.expit((x - b3) / (abs(b4) + 1e-12))


def logistic_fit(pred: object, target: object) -> np.ndarray | None:
    """Predictions mapped by the fitted 4-parameter logistic, or None if the fit fails."""
    p, t = _pair(pred, target)
    if _degenerate(p, t) or p.size <= 4:
        return None  # nothing to fit, or no more points than parameters
    scale = float(np.std(p))
    z = (p - np.mean(p)) / scale  # the logistic absorbs this affine change of x
    high, low = float(np.max(t)), float(np.min(t))
    if stats.pearsonr(z, t).statistic < 0:
        high, low = low, high  # start from a decreasing curve
    start = (high, low, 0.0, 1.0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            params, _ = optimize.curve_fit(logistic4, z, t, p0=start, maxfev=20000)
    except (RuntimeError, ValueError):
        return None
    fitted = logistic4(z, *params)
    if not np.all(np.isfinite(fitted)) or np.ptp(fitted) <= 1e-12 * max(1.0, float(np.ptp(t))):
        return None
    return fitted


def _plcc(p: np.ndarray, t: np.ndarray, logistic: bool) -> tuple[float, bool]:
    if _degenerate(p, t):
        return float("nan"), not logistic
    if logistic:
        fitted = logistic_fit(p, t)
        if fitted is not None:
            return float(stats.pearsonr(fitted, t).statistic), True
    return float(stats.pearsonr(p, t).statistic), not logistic


def plcc(pred: object, target: object, logistic: bool = True) -> float:
    """Pearson correlation, after the 4-parameter logistic fit by default (linear if it fails)."""
    p, t = _pair(pred, target)
    return _plcc(p, t, logistic)[0]


def evaluate(pred: object, target: object, logistic: bool = True) -> Scores:
    """SRCC, PLCC and KRCC of one prediction set."""
    p, t = _pair(pred, target)
    value, ok = _plcc(p, t, logistic)
    return Scores(srcc=srcc(p, t), plcc=value, krcc=krcc(p, t), logistic_ok=ok)


def random_splits(
    n: int,
    n_splits: int = 10,
    train_frac: float = 0.8,
    seed: int = 0,
    groups: Sequence[object] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_splits`` random (train_idx, test_idx) splits of ``range(n)``.

    With ``groups`` (one label per item, e.g. the reference image), whole
    groups go to one side, ``train_frac`` of the groups to training.
    """
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"train_frac must be in (0, 1), got {train_frac}")
    if groups is None:
        labels = np.arange(n)
    else:
        labels = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)[1]
        if labels.size != n:
            raise ValueError(f"groups has {labels.size} labels for {n} items")
    n_groups = int(labels.max()) + 1 if n else 0
    n_train = round(n_groups * train_frac)
    if n_train < 1 or n_groups - n_train < 1:
        raise ValueError(f"cannot split {n_groups} items/groups with train_frac={train_frac}")
    rng = np.random.default_rng(seed)
    splits = []
    for _ in range(n_splits):
        train_groups = np.zeros(n_groups, dtype=bool)
        train_groups[rng.permutation(n_groups)[:n_train]] = True
        in_train = train_groups[labels]
        train_idx, test_idx = np.flatnonzero(in_train), np.flatnonzero(~in_train)
        if test_idx.size < 2:
            raise ValueError(f"split leaves {test_idx.size} test item(s); need at least 2")
        splits.append((train_idx, test_idx))
    return splits


def run_protocol(
    train_and_predict: TrainAndPredict,
    targets: object,
    n_splits: int = 10,
    seed: int = 0,
    train_frac: float = 0.8,
    groups: Sequence[object] | None = None,
    logistic: bool = True,
) -> ProtocolResult:
    """Intra-dataset protocol: for each random split, ``train_and_predict(train_idx, test_idx)``
    returns predictions for ``test_idx``; report the median SRCC / PLCC / KRCC."""
    t = np.asarray(targets, dtype=float).ravel()
    per_split = []
    for number, (train_idx, test_idx) in enumerate(random_splits(t.size, n_splits, train_frac, seed, groups)):
        pred = np.asarray(train_and_predict(train_idx, test_idx), dtype=float).ravel()
        if pred.size != test_idx.size:
            raise ValueError(f"split {number}: got {pred.size} predictions for {test_idx.size} test items")
        per_split.append(evaluate(pred, t[test_idx], logistic))
    return ProtocolResult(
        median_srcc=float(np.median([s.srcc for s in per_split])),
        median_plcc=float(np.median([s.plcc for s in per_split])),
        median_krcc=float(np.median([s.krcc for s in per_split])),
        per_split=tuple(per_split),
    )


def cross_dataset(
    train_and_predict: CrossTrainAndPredict,
    targets: Mapping[str, object],
    train_names: Sequence[str] | None = None,
    logistic: bool = True,
) -> dict[tuple[str, str], Scores]:
    """Cross-dataset protocol: for each training dataset, ``train_and_predict(train, tests)``
    trains on all of ``train`` and returns predictions for every dataset in ``tests``
    (all the others); scores are keyed ``(train, test)``."""
    names = list(targets)
    trains = names if train_names is None else list(train_names)
    unknown = [name for name in trains if name not in targets]
    if unknown:
        raise ValueError(f"train_names {unknown} have no targets; known: {names}")
    results: dict[tuple[str, str], Scores] = {}
    for train in trains:
        tests = [name for name in names if name != train]
        if not tests:
            raise ValueError(f"cross_dataset needs at least one dataset besides {train!r}")
        predictions = train_and_predict(train, tests)
        for test in tests:
            if test not in predictions:
                raise ValueError(f"train_and_predict({train!r}) returned no predictions for {test!r}")
            results[(train, test)] = evaluate(predictions[test], targets[test], logistic)
    return results
