"""IQA metrics against scipy, the split protocol, and an end-to-end run through the readers."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import stats

from declip_core.training.data.sources import check_images, read_source
from declip_core.training.mos.protocol import (
    cross_dataset,
    evaluate,
    krcc,
    logistic_fit,
    plcc,
    random_splits,
    run_protocol,
    srcc,
)
from declip_core.training.mos.protocol import logistic4


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- metrics ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_scipy_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    target = rng.normal(size=40)
    pred = 0.5 * target + rng.normal(size=40)
    assert srcc(pred, target) == pytest.approx(stats.spearmanr(pred, target).statistic)
    assert krcc(pred, target) == pytest.approx(stats.kendalltau(pred, target).statistic)
    assert plcc(pred, target, logistic=False) == pytest.approx(stats.pearsonr(pred, target).statistic)


def test_logistic_plcc_recovers_a_logistic_relation() -> None:
    x = np.linspace(-3, 3, 60)
    target = logistic4(x, 5.0, 1.0, 0.4, 0.5)
    assert plcc(x, target) == pytest.approx(1.0, abs=1e-6)
    assert plcc(x, target, logistic=False) < 0.97
    falling = logistic4(x, 1.0, 5.0, -0.2, 0.7)  # decreasing: fit starts from a falling curve
    assert plcc(x, falling) == pytest.approx(1.0, abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(-1000, 1000), min_size=6, max_size=30, unique=True), st.integers(0, 2**16))
def test_rank_metrics_ignore_monotone_transforms_and_plcc_is_bounded(values: list[int], seed: int) -> None:
    pred = np.array(values, dtype=float)
    target = pred + np.random.default_rng(seed).normal(scale=np.std(pred) + 1.0, size=pred.size)
    if np.ptp(target) == 0:
        return
    assert srcc(np.exp(pred / 1e3), target) == pytest.approx(srcc(pred, target))
    assert krcc(pred**3, target) == pytest.approx(krcc(pred, target))
    assert -1.0 - 1e-9 <= plcc(pred, target) <= 1.0 + 1e-9


def test_fallbacks_are_clear_and_warning_free() -> None:
    few = evaluate([1.0, 2.0, 4.0], [2.0, 1.0, 3.0])  # too few points for 4 parameters
    assert not few.logistic_ok
    assert few.plcc == pytest.approx(stats.pearsonr([1.0, 2.0, 4.0], [2.0, 1.0, 3.0]).statistic)
    assert logistic_fit([1.0, 2.0, 4.0], [2.0, 1.0, 3.0]) is None
    flat = evaluate(np.ones(10), np.arange(10.0))
    assert np.isnan(flat.srcc) and np.isnan(flat.plcc) and np.isnan(flat.krcc)
    assert evaluate(np.arange(10.0), np.arange(10.0) ** 2).logistic_ok


@pytest.mark.parametrize(
    "pred, target, message",
    [
        ([1.0, 2.0], [1.0], "2 values but target has 1"),
        ([1.0], [1.0], "at least 2"),
        ([1.0, np.nan], [1.0, 2.0], "finite"),
    ],
)
def test_metric_input_errors(pred: list, target: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        srcc(pred, target)


# --- splits ------------------------------------------------------------------------------


def test_random_splits_are_80_20_disjoint_and_seeded() -> None:
    splits = random_splits(50, n_splits=10, seed=3)
    assert len(splits) == 10
    for train, test in splits:
        assert (train.size, test.size) == (40, 10)
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(50))
    again = random_splits(50, n_splits=10, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))
    assert len({tuple(test) for _, test in splits}) > 1
    assert not np.array_equal(random_splits(50, seed=4)[0][1], splits[0][1])


def test_grouped_splits_keep_groups_together() -> None:
    groups = [f"I{i // 5:02d}" for i in range(50)]  # 10 references x 5 distortions
    for train, test in random_splits(50, n_splits=5, groups=groups):
        train_refs, test_refs = {groups[i] for i in train}, {groups[i] for i in test}
        assert not train_refs & test_refs and (len(train_refs), len(test_refs)) == (8, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"n": 3}, "split"), ({"n": 10, "train_frac": 1.0}, "train_frac"), ({"n": 10, "n_splits": 0}, "n_splits"),
     ({"n": 10, "groups": ["a"] * 9}, "9 labels")],
)
def test_random_splits_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        random_splits(**kwargs)


# --- protocol on synthetic data -------------------------------------------------------------


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float = 1e-3) -> np.ndarray:
    design = np.column_stack([x, np.ones(len(x))])
    return np.linalg.solve(design.T @ design + alpha * np.eye(design.shape[1]), design.T @ y)


def predict_ridge(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.column_stack([x, np.ones(len(x))]) @ weights


def ridge_fit_predict(features: np.ndarray, targets: np.ndarray):
    def train_and_predict(train_idx: np.ndarray, test_idx: np.ndarray) -> np.ndarray:
        return predict_ridge(features[test_idx], fit_ridge(features[train_idx], targets[train_idx]))

    return train_and_predict


def test_protocol_informative_vs_shuffled_feature() -> None:
    rng = np.random.default_rng(0)
    targets = rng.uniform(1, 5, size=120)
    informative = (targets + rng.normal(scale=0.3, size=120))[:, None]
    good = run_protocol(ridge_fit_predict(informative, targets), targets, n_splits=10, seed=0)
    assert len(good.per_split) == 10
    assert good.median_srcc > 0.9 and good.median_plcc > 0.9 and good.median_krcc > 0.7
    assert good.median_srcc == pytest.approx(np.median([s.srcc for s in good.per_split]))
    shuffled = rng.permutation(informative)
    bad = run_protocol(ridge_fit_predict(shuffled, targets), targets, n_splits=10, seed=0)
    assert abs(bad.median_srcc) < 0.3


def test_protocol_rejects_wrong_prediction_count() -> None:
    with pytest.raises(ValueError, match="split 0: got 1 predictions for 4 test items"):
        run_protocol(lambda train, test: np.zeros(1), np.arange(20.0), n_splits=2)


def test_cross_dataset_pairs_and_errors() -> None:
    rng = np.random.default_rng(1)
    data = {}
    for name, shift in (("a", 0.0), ("b", 2.0), ("c", -1.0)):
        y = rng.uniform(0, 1, 40)
        data[name] = (y * 3 + shift + rng.normal(scale=0.05, size=40), y)

    def train_and_predict(train: str, tests: list[str]) -> dict[str, np.ndarray]:
        slope, intercept = np.polyfit(data[train][0], data[train][1], 1)
        return {t: slope * data[t][0] + intercept for t in tests}

    targets = {name: y for name, (_, y) in data.items()}
    results = cross_dataset(train_and_predict, targets)
    assert set(results) == {(a, b) for a in "abc" for b in "abc" if a != b}
    assert all(s.srcc > 0.95 and s.plcc > 0.95 for s in results.values())
    assert set(cross_dataset(train_and_predict, targets, train_names=["b"])) == {("b", "a"), ("b", "c")}
    with pytest.raises(ValueError, match="no targets"):
        cross_dataset(train_and_predict, targets, train_names=["z"])
    with pytest.raises(ValueError, match="no predictions for 'c'"):
        cross_dataset(lambda train, tests: {"a": targets["a"]}, targets, train_names=["b"])


# --- end to end through the readers ----------------------------------------------------------


def write_koniq(root: Path, mos: np.ndarray) -> None:
    (root / "1024x768").mkdir(parents=True)
    lines = ["image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,MOS_zscore"]
    for i, value in enumerate(mos):
        grey = int(40 + 50 * (value - 1))  # brighter = better
        Image.new("RGB", (8, 8), (grey, grey, grey)).save(root / "1024x768" / f"{i}.jpg")
        lines.append(f"{i}.jpg,0,0,0,0,0,100,{value:.4f},0.5,{(value - 1) * 25:.4f}")
    (root / "koniq10k_scores_and_distributions.csv").write_text("\n".join(lines) + "\n")


def write_spaq_csv(root: Path, mos: np.ndarray) -> None:
    (root / "TestImage").mkdir(parents=True)
    (root / "Annotations").mkdir()
    lines = ["Image name,MOS"]
    for i, value in enumerate(mos):
        grey = int(30 + 2 * value)
        Image.new("RGB", (8, 8), (grey, grey, grey)).save(root / "TestImage" / f"{i:05d}.jpg")
        lines.append(f"{i:05d}.jpg,{value:.2f}")
    (root / "Annotations" / "MOS and Image attribute scores.csv").write_text("\n".join(lines) + "\n")


def brightness(records: list) -> np.ndarray:
    return np.array([[np.asarray(Image.open(r.image_path).convert("L"), dtype=float).mean()] for r in records])


def test_end_to_end_readers_protocol_and_cross_dataset(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    write_koniq(tmp_path / "koniq", rng.uniform(1, 5, 30))
    write_spaq_csv(tmp_path / "spaq", rng.uniform(5, 95, 25))
    datasets = {}
    for name, folder in (("koniq10k", "koniq"), ("spaq", "spaq")):
        present, missing = check_images(read_source(name, tmp_path / folder))
        assert missing == [] and len(present) == {"koniq10k": 30, "spaq": 25}[name]
        targets = np.array([r.normalized_mos() for r in present])
        datasets[name] = (brightness(present), targets)
    features, targets = datasets["koniq10k"]
    result = run_protocol(ridge_fit_predict(features, targets), targets, n_splits=4, seed=0)
    assert result.median_srcc > 0.95 and result.median_plcc > 0.95

    def train_and_predict(train: str, tests: list[str]) -> dict[str, np.ndarray]:
        weights = fit_ridge(*datasets[train])
        return {test: predict_ridge(datasets[test][0], weights) for test in tests}

    cross = cross_dataset(train_and_predict, {name: y for name, (_, y) in datasets.items()})
    assert set(cross) == {("koniq10k", "spaq"), ("spaq", "koniq10k")}
    assert all(scores.srcc > 0.95 for scores in cross.values())
