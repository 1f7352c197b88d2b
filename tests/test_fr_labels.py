"""FR pseudo-MOS labels: identical pair is best, calibration is monotone onto 0..1, a severity ladder
gets falling pseudo-MOS, the cache round-trips; the builder writes ladders and splits by photo."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core.training.data.distortions import Applied, apply_chain
from declip_core.training.data.fr_labels import (
    METRICS,
    Calibration,
    LabelCache,
    fr_metrics,
    ladder_monotone_fraction,
)


def _img(seed: int, size: int = 192) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC), np.float32)
    return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.copy()).permute(2, 0, 1).float() / 255.0


@pytest.fixture(scope="module")
def ladder():
    """Raw metrics for 2 photos x (gaussian_blur, white_noise) x levels 1..5."""
    refs, dists, keys = [], [], []
    for seed in (1, 2):
        img = _img(seed)
        for name in ("gaussian_blur", "white_noise"):
            for lv in range(1, 6):
                refs.append(_t(img))
                dists.append(_t(apply_chain(img, [Applied(name, lv)], seed=seed)))
                keys.append((seed, name, lv))
    raw = fr_metrics(torch.stack(dists), torch.stack(refs))
    return keys, raw


def test_identical_pair_is_best(ladder):
    _, raw = ladder
    img = _t(_img(3))[None]
    same = fr_metrics(img, img)
    cal = Calibration.fit(raw)
    for m, higher in METRICS.items():
        if higher:
            assert same[m][0] >= raw[m].max() and same[m][0] == pytest.approx(1.0, abs=1e-4)
        else:
            assert same[m][0] <= raw[m].min() and same[m][0] == pytest.approx(0.0, abs=1e-6)
        assert cal.apply(m, same[m])[0] == 1.0
    assert cal.pseudo_mos(same)[0] == 1.0


def test_calibration_monotone_and_in_range(ladder):
    _, raw = ladder
    cal = Calibration.fit(raw)
    for m, higher in METRICS.items():
        grid = np.linspace(raw[m].min() - 0.1, raw[m].max() + 0.1, 500)
        y = cal.apply(m, grid)
        assert np.all((y >= 0) & (y <= 1))
        d = np.diff(y)
        assert np.all(d >= 0) if higher else np.all(d <= 0)
    back = Calibration.from_json(cal.to_json())
    assert np.allclose(back.pseudo_mos(raw), cal.pseudo_mos(raw))
    assert math.isnan(cal.apply("gmsd", np.array([np.nan]))[0])


def test_more_distortion_lower_pseudo_mos_on_a_ladder(ladder):
    keys, raw = ladder
    pm = Calibration.fit(raw).pseudo_mos(raw)
    rows = [{"ladder": f"{s}|{n}", "distortions": json.dumps([[n, lv]]), "pseudo_mos": float(p)}
            for (s, n, lv), p in zip(keys, pm)]
    assert ladder_monotone_fraction(rows) == 1.0
    assert np.all((pm >= 0) & (pm <= 1))


def test_fr_metrics_rejects_bad_input():
    a = torch.rand(1, 3, 64, 64)
    with pytest.raises(ValueError):
        fr_metrics(a, torch.rand(1, 3, 64, 32))
    with pytest.raises(ValueError):
        fr_metrics(a * 2, a)


def test_label_cache_round_trip(tmp_path):
    c = LabelCache(tmp_path / "c.sqlite")
    c.put_many([("d1", "r1", "gmsd", 0.25), ("d1", "r1", "mdsi", 0.5)])
    c.close()
    c = LabelCache(tmp_path / "c.sqlite")
    assert c.get("d1", "r1", "gmsd") == 0.25 and c.get("d1", "r2", "gmsd") is None
    assert c.get_many("mdsi") == {("d1", "r1"): 0.5}
    c.close()


class _Captioner:
    seed = 0

    def caption(self, images):
        return ["a test scene"] * len(images)


@pytest.mark.slow  # ~40 s on an idle 2-core machine (renders ~270 samples, labels ~260 pairs)
def test_builder_ladders_labels_and_split_by_photo(tmp_path):
    """gathered-photos source -> build_i2t -> label_i2t: 3 photos (one per split), 2 training crops,
    one val and one test crop, 192 px to keep it quick."""
    from declip_core.training.data.i2t import BuildConfig, build_i2t
    from declip_core.training.data.manifest import read_manifest
    from declip_core.training.data.fr_labels import label_i2t

    root = tmp_path / "photos"
    (root / "crops").mkdir(parents=True)
    with open(root / "crops.jsonl", "w") as f:
        for i, split in enumerate(("train", "val", "test")):
            for k in range(2 if split == "train" else 1):
                p = root / "crops" / f"p{i}_{k}.png"
                Image.fromarray(_img(10 * i + k, 192)).save(p)
                f.write(json.dumps({"crop_id": f"pkg/p{i}/c{k}", "photo_id": f"pkg/p{i}", "split": split,
                                    "file": p.relative_to(root).as_posix()}) + "\n")
    out = tmp_path / "i2t"
    cfg = BuildConfig(crop_size=192, singles_per_crop=1, combos_per_crop=1, aesthetic_negatives=(), ladder_types=1, workers=1,
                      heldout_types=("lens_blur",))
    build_i2t([f"gathered-photos:{root}"], out, cfg, captioner=_Captioner(), progress=False)
    rows = read_manifest(out)
    by_photo = {}
    for r in rows:
        by_photo.setdefault(r["photo_id"], set()).add(r["split"])
    assert by_photo == {"pkg/p0": {"train"}, "pkg/p1": {"val"}, "pkg/p2": {"test"}}
    train = [r for r in rows if r["split"] == "train"]
    assert len(train) == 2 * (1 + 5 + 1 + 1)  # clean + one 5-level ladder + a single + a combo, per crop
    assert not any(n == "lens_blur" for r in train for n, _ in r.chain)
    ladders = {}
    for r in train:
        if r["ladder"]:
            ladders.setdefault(r["ladder"], []).append(r.chain[0][1])
    assert len(ladders) == 2 and all(sorted(v) == [1, 2, 3, 4, 5] for v in ladders.values())
    val = [r for r in rows if r["split"] == "val"]
    assert len({(n, lv) for r in val for n, lv in r.chain}) == 25 * 5  # every type at every level

    label_i2t(out, progress=False)
    rows = read_manifest(out)
    for r in rows:
        assert 0.0 <= r["pseudo_mos"] <= 1.0
        if r["distortions"] == "[]":
            assert r["pseudo_mos"] == 1.0
    assert ladder_monotone_fraction([r.data for r in rows if r["split"] == "train"]) >= 0.5
    assert (out / "fr_calibration.json").is_file()
    s = label_i2t(out, progress=False)  # second run: everything from the cache
    assert s.computed == 0 and s.cached == s.pairs > 0
