"""Rerun spread (declip_core/training/rerun_spread.py): the float-rounding change, the variants, and on a tiny
backbone: retraining on unchanged inputs gives the same embeddings bit for bit, changed inputs do not."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from declip_core.io import load_image
from declip_core.model import DisentanglerConfig
from declip_core.samples import sample_path
from declip_core.testing import TinyBackbone
from declip_core.training.config import OptimConfig
from declip_core.training.disentangler import TrainArrays, train_disentangler
from declip_core.training.repro_check import embed_samples, max_abs_diff
from declip_core.training.rerun_spread import PARTS, format_table, parse_variant, perturb, rerun_spread

ROOT = Path(__file__).resolve().parents[1]


def _arrays(bb: TinyBackbone, n: int = 96, seed: int = 0) -> TrainArrays:
    g = np.random.default_rng(seed)
    pk, sk = g.integers(0, 5, n), g.integers(0, 4, n)
    feats = g.normal(size=(n, bb.info.feature_dim)).astype(np.float32)
    pt = g.normal(size=(5, bb.info.text_dim)).astype(np.float32)[pk]
    st = g.normal(size=(4, bb.info.text_dim)).astype(np.float32)[sk]
    return TrainArrays(feats, pt, st, pk, sk)


def test_perturb_changes_one_part_in_its_last_bits() -> None:
    arr = _arrays(TinyBackbone(0))
    for part in PARTS:
        p = perturb(arr, part, seed=1)
        x, y = getattr(arr, part), getattr(p, part)
        rel = np.abs(y - x) / np.maximum(np.abs(x), 1e-30)
        assert y.shape == x.shape and y.dtype == np.float32
        assert 0 < rel.max() < 1e-6 and (y != x).mean() > 0.3
        assert np.array_equal(getattr(perturb(arr, part, seed=1), part), y)  # the seed fixes it
        assert not np.array_equal(getattr(perturb(arr, part, seed=2), part), y)
        for other in set(PARTS) - {part}:
            assert getattr(p, other) is getattr(arr, other)
    with pytest.raises(ValueError, match="unknown part"):
        perturb(arr, "keys", 0)
    with pytest.raises(ValueError, match="rel must be"):
        perturb(arr, "feats", 0, rel=-1.0)


def test_parse_variant() -> None:
    assert parse_variant("same") == (None, 0)
    assert parse_variant("sem_text:3") == ("sem_text", 3)
    for bad in ("sem", "sem_text", "sem_text:x", "keys:1", ""):
        with pytest.raises(ValueError, match="variant"):
            parse_variant(bad)


def test_retraining_unchanged_inputs_is_bit_exact_and_changed_inputs_move(tmp_path: Path) -> None:
    from declip_core.inference import DeCLIP

    bb = TinyBackbone(0)
    arr = _arrays(bb)
    dcfg = DisentanglerConfig(backbone="tiny", image_in_dim=bb.info.feature_dim, text_in_dim=bb.info.text_dim,
                              perceptual_dim=8, semantic_dim=8, hidden=32, depth=1, text_hidden=32, text_depth=1,
                              dropout=0.1)
    ocfg = OptimConfig(epochs=3, batch_size=32, lr=3e-3, warmup_steps=2)

    def train(a: TrainArrays, out: str):
        return train_disentangler(a, dcfg, ocfg, out, seed=0, resume=False)

    images = {n: load_image(sample_path(n)) for n in ("camera", "coffee")}
    own = embed_samples(DeCLIP(bb, train(arr, str(tmp_path / "run"))).eval(), images)
    assert own["camera"]["semantic"].shape == (8,)
    first3 = {n: {p: e[p][:3].tolist() for p in e} for n, e in own.items()}  # a reference of 3 components
    rows = rerun_spread(arr, train, bb, own, images, ["sem_text:1"], reference=first3)
    assert [r.variant for r in rows] == ["run", "same", "sem_text:1"]
    run, same, moved = rows
    assert run.max_diff == same.max_diff == {"perceptual": 0.0, "semantic": 0.0}  # deterministic training
    assert run.max_diff_reference == {"perceptual": 0.0, "semantic": 0.0}
    assert moved.max_diff["semantic"] > 0.0 and np.isfinite(list(moved.max_diff.values())).all()
    assert max_abs_diff(own, first3, "semantic") == 0.0
    table = format_table(rows)
    assert table.count("\n") == 4 and "| same | unchanged | 0.00e+00 | 0.00e+00 |" in table
    assert "(stored components)" in table
    with pytest.raises(ValueError, match="variant"):
        rerun_spread(arr, train, bb, own, images, ["same", "bogus"])


def test_cli_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "training" / "rerun_spread.py"), "--run", str(tmp_path)],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2 and "resolved_config.yaml: missing" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "training" / "rerun_spread.py"), "--run", str(tmp_path),
                        "--variants", "same", "nonsense"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2 and "variant 'nonsense'" in r.stderr
