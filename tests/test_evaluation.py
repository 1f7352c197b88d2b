"""Held-out probes of training/evaluate.py: content probe, per-level content leak, attribute reference."""
import numpy as np
import pytest
from PIL import Image

from declip_core.training.disentangler_eval import (
    EvalReport,
    SingleDistortionLabels,
    heldout_probes,
    measured_attribute_features,
    probe_accuracy,
)

TYPES = [f"t{i}" for i in range(10)]
PHOTOS = ["a", "b", "c", "d"]


def _labels() -> SingleDistortionLabels:
    types, levels, photos = [], [], []
    for p in PHOTOS:
        for t in TYPES:
            for lv in range(1, 6):
                types.append(t), levels.append(lv), photos.append(p)
    return SingleDistortionLabels(types=types, levels=levels, photos=photos)


def _condition_code(lab: SingleDistortionLabels, rng: np.random.Generator) -> np.ndarray:
    """(N, 13) dense random code per type + one-hot level + a little noise: knows the condition, not
    the photo (dense, so that types a probe never trained on still fall in the trained range)."""
    type_code = np.random.default_rng(123).standard_normal((len(TYPES), 8))
    x = np.zeros((len(lab.types), 8 + 5))
    for i, (t, lv) in enumerate(zip(lab.types, lab.levels)):
        x[i, :8] = type_code[TYPES.index(t)]
        x[i, 8 + lv - 1] = 1.0
    return x + 0.05 * rng.standard_normal(x.shape)


def test_condition_only_code_has_chance_content_and_full_type_accuracy():
    lab = _labels()
    acc, by_level = heldout_probes(_condition_code(lab, np.random.default_rng(0)), lab)
    assert acc["distortion type"] == 1.0 and acc["distortion level"] == 1.0
    assert acc["content (photo)"] < 0.45  # chance 0.25; a photo-blind code cannot name the photo
    assert set(by_level) == {1, 2, 3, 4, 5}


def test_photo_offset_at_low_levels_shows_up_in_the_per_level_content_accuracy():
    lab = _labels()
    rng = np.random.default_rng(1)
    x = _condition_code(lab, rng)
    offsets = np.eye(len(PHOTOS))  # one clear direction per photo
    leak = np.array([offsets[PHOTOS.index(p)] * (lv == 1) for p, lv in zip(lab.photos, lab.levels)])
    acc, by_level = heldout_probes(np.concatenate([x, leak], axis=1), lab)
    assert by_level[1] == 1.0
    assert by_level[5] < 0.5
    assert acc["content (photo)"] > 0.3


def test_content_probe_never_trains_on_the_tested_distortion_type():
    # A code that only names the type (and a photo offset present in ONE type) cannot transfer the
    # offset: the content probe trains on other type folds.
    lab = _labels()
    x = _condition_code(lab, np.random.default_rng(2))
    leak = np.array([[PHOTOS.index(p) * 3.0 if t == "t0" else 0.0] for p, t in zip(lab.photos, lab.types)])
    pred_acc = probe_accuracy(np.concatenate([x, leak], 1), lab.photos, lab.type_fold)
    assert pred_acc < 0.45


def test_measured_attributes_reference(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.integers(40, 120, size=(64, 64, 3), dtype=np.uint8)
    Image.fromarray(base).save(tmp_path / "dark.png")
    Image.fromarray(np.clip(base.astype(int) + 100, 0, 255).astype(np.uint8)).save(tmp_path / "bright.png")
    a = measured_attribute_features([tmp_path / "dark.png", tmp_path / "bright.png"])
    assert a.shape == (2, 5) and np.isfinite(a).all()
    assert a[1, 2] > a[0, 2]  # exposure column
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ValueError, match="broken.png"):
        measured_attribute_features([tmp_path / "dark.png", tmp_path / "broken.png"])


def test_table_lists_references_and_content_by_level():
    rep = EvalReport(n_images=10, n_photos=4, references=("measured attributes (reference)",))
    tasks = {"distortion type": 0.5, "distortion level": 0.3, "content (photo)": 0.9}
    rep.probes = {"raw feature": tasks, "perceptual": tasks, "semantic": tasks, "measured attributes (reference)": tasks}
    rep.chance = {"distortion type": 0.04, "distortion level": 0.2, "content (photo)": 0.25}
    rep.content_by_level = {"perceptual": {1: 0.97, 5: 0.5}}
    rep.stability = {"semantic": {"same_photo": 0.95, "other_photo": 0.5}}
    t = rep.table()
    assert "| measured attributes (reference) | 0.500 | 0.300 | 0.900 |" in t
    assert "| perceptual | 0.970 | 0.500 |" in t
    assert rep.claims()["perceptual content accuracy near chance"] is False
