"""The aes head on AVA (declip_core/training/mos/ava.py, training/configs/lite-aes-ava.yaml) on a tiny AVA copy
made in tmp_path in AVA's on-disk format: AVA.txt rows (index, image id, 10 vote counts, 2 semantic tags,
challenge id), images/<id>.jpg, aesthetics_image_lists/*.jpgl."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core.iqa import create_quality_model
from declip_core.iqa.model import default_views
from declip_core.views import ViewPolicy
from declip_core.training.mos import PerceptualCache, predict
from declip_core.training.mos import ava as ava_mod
from declip_core.training.mos.ava import (
    best_threshold,
    cached_features,
    id_fraction,
    mos_pairs,
    split_ava,
    train_ava,
    view_pairs,
)
from declip_core.testing import tiny_declip

ROOT = Path(__file__).resolve().parents[1]
N = 48
FAST = {"workers": 0, "batch_size": 16}
VP = ViewPolicy("resize")


def _counts(mean: float) -> list[int]:
    """100 votes on 1..10 whose mean is `mean` (two neighbouring scores)."""
    lo = int(np.floor(mean))
    hi_share = round(100 * (mean - lo))
    c = [0] * 10
    c[lo - 1] += 100 - hi_share
    if hi_share:
        c[lo] += hi_share
    return c


def make_ava(root: Path, n: int = N, lists: bool = True, seed: int = 0) -> dict:
    """A tiny AVA copy: n listed images whose mean rating (3..8) sets their brightness (a signal a random conv
    net sees), plus one image in neither list, one listed but missing, one listed but corrupt.
    Returns {'ids', 'mos', 'test', 'train', 'unlisted', 'missing', 'corrupt'}."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    ids = [str(700000 + 13 * i) for i in range(n + 3)]
    mos = np.round(rng.uniform(3.0, 8.0, size=n + 3), 2)
    rows = []
    for i, (image_id, m) in enumerate(zip(ids, mos)):
        rows.append(" ".join(map(str, [i + 1, image_id, *_counts(float(m)), 12, 0, 1396])))
        level = 0.1 + 0.8 * (m - 3.0) / 5.0
        px = np.clip(level + 0.08 * rng.normal(size=(40, 56, 3)), 0, 1)
        Image.fromarray((px * 255).astype(np.uint8)).save(root / "images" / f"{image_id}.jpg", quality=95)
    (root / "AVA.txt").write_text("\n".join(rows) + "\n")
    unlisted, missing, corrupt = ids[n], ids[n + 1], ids[n + 2]
    (root / "images" / f"{missing}.jpg").unlink()
    (root / "images" / f"{corrupt}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    test = [ids[i] for i in range(0, n, 4)]
    train = [i for i in ids[:n] if i not in test] + [missing, corrupt]
    if lists:
        d = root / "aesthetics_image_lists"
        d.mkdir()
        (d / "generic_ls_train.jpgl").write_text("\n".join(train) + "\n")
        (d / "generic_test.jpgl").write_text("\n".join(test) + "\n")
        (d / "generic_ss_train.jpgl").write_text("\n".join(train[:5]) + "\n")  # another AVA list: not used
        (d / "animal_test.jpgl").write_text(test[0] + "\n")
    return {"ids": ids, "mos": dict(zip(ids, mos)), "test": test, "train": train, "unlisted": unlisted,
            "missing": missing, "corrupt": corrupt}


@pytest.fixture(scope="module")
def dc():
    return tiny_declip(seed=0)


def _ids(part) -> set[str]:
    return set(part.ids)


# ------------------------------------------------------------------ the split
def test_official_lists_are_the_split(tmp_path):
    info = make_ava(tmp_path / "ava")
    s = split_ava(tmp_path / "ava")
    assert s.how == "official lists" and s.unlisted == 1
    assert _ids(s.test) == set(info["test"])
    assert _ids(s.train) | _ids(s.val) == set(info["train"]) - {info["missing"]}  # corrupt: found when decoded
    fit_ids = sorted(_ids(s.train) | _ids(s.val), key=lambda i: id_fraction("val", i))
    assert not (_ids(s.train) & _ids(s.val)) and _ids(s.val) == set(fit_ids[:2])  # ceil(0.05 x 37)
    assert [Path(p).stem for p, _ in s.problems] == [info["missing"]]
    for part in (s.train, s.val, s.test):  # the mean of the vote histogram, 1..10
        np.testing.assert_allclose(part.mos, [info["mos"][i] for i in part.ids], atol=1e-9)


def test_split_by_image_id_without_lists(tmp_path):
    info = make_ava(tmp_path / "a", lists=False)
    s = split_ava(tmp_path / "a", test_fraction=0.25, val_fraction=0.1)
    assert s.how.startswith("image-id hash") and s.unlisted == 0
    present = set(info["ids"]) - {info["missing"]}
    assert _ids(s.test) == {i for i in present if id_fraction("test", i) < 0.25}
    rest = sorted(present - _ids(s.test), key=lambda i: id_fraction("val", i))
    assert _ids(s.val) == set(rest[: max(2, int(np.ceil(0.1 * len(rest))))])
    assert _ids(s.train) | _ids(s.val) | _ids(s.test) == present
    # the order of AVA.txt does not matter
    txt = tmp_path / "a" / "AVA.txt"
    txt.write_text("\n".join(reversed(txt.read_text().splitlines())) + "\n")
    s2 = split_ava(tmp_path / "a", test_fraction=0.25, val_fraction=0.1)
    assert (_ids(s2.train), _ids(s2.val), _ids(s2.test)) == (_ids(s.train), _ids(s.val), _ids(s.test))


def test_split_errors_name_the_file(tmp_path):
    make_ava(tmp_path / "a")
    lst = tmp_path / "a" / "aesthetics_image_lists" / "generic_test.jpgl"
    lst.write_text("")
    with pytest.raises(ValueError, match="generic_test.jpgl"):
        split_ava(tmp_path / "a")
    txt = tmp_path / "a" / "AVA.txt"
    txt.write_text(txt.read_text() + "99 123 1 2 3\n")
    with pytest.raises(ValueError, match=r"AVA.txt:52: expected 15"):
        split_ava(tmp_path / "a")
    with pytest.raises(ValueError, match="test_fraction"):
        split_ava(tmp_path / "a", test_fraction=0.0)


# ------------------------------------------------------------------ pairs, view rows, threshold
def test_mos_pairs_respect_the_margin_and_the_order():
    m = np.linspace(1.0, 10.0, 200)
    b, w = mos_pairs(m, margin=0.5, partners=8, seed=3)
    assert b.size > 0 and np.all(m[b] - m[w] >= 0.5 - 1e-12)
    assert b.size <= 200 * 8
    b2, w2 = mos_pairs(m, margin=0.5, partners=8, seed=3)
    assert np.array_equal(b, b2) and np.array_equal(w, w2)
    b, w = mos_pairs(np.array([5.0, 6.0, 5.2]), margin=0.5, partners=8)  # few images: every pair
    assert sorted(zip(b.tolist(), w.tolist())) == [(1, 0), (1, 2)]
    with pytest.raises(ValueError, match="margin"):
        mos_pairs(m, margin=0.0)


def test_view_pairs_pair_view_k_with_view_k():
    owner = np.array([0, 0, 1, 2, 2, 2])  # image 0: rows 0-1, image 1: row 2, image 2: rows 3-5
    rb, rw = view_pairs(owner, np.array([0, 2]), np.array([1, 0]))
    assert list(zip(rb.tolist(), rw.tolist())) == [(0, 2), (1, 2), (3, 0), (4, 1), (5, 0)]
    with pytest.raises(ValueError, match="contiguous"):
        view_pairs(np.array([0, 1, 0]), np.array([0]), np.array([1]))


def test_best_threshold_classifies_the_training_scores():
    s = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.4])
    high = np.array([False, False, False, True, True, False])
    t = best_threshold(s, high)
    assert 0.4 < t < 0.6 and np.array_equal(s > t, high)
    assert best_threshold(np.array([0.5, 0.5]), np.array([True, True])) < 0.5  # all high: below every score


# ------------------------------------------------------------------ training on the fixture
def test_cached_features_in_chunks_equal_one_pass_and_are_stored(dc, tmp_path):
    info = make_ava(tmp_path / "ava", n=12)
    paths = [str(tmp_path / "ava" / "images" / f"{i}.jpg") for i in info["ids"]]  # includes missing and corrupt
    lines: list[str] = []
    cache = PerceptualCache(tmp_path / "c", dc, VP, output="features", workers=0)
    ok, ve, err = cached_features(cache, paths, lines.append, chunk=4)
    assert len(lines) == 4 and lines[-1].strip() == f"{len(paths)}/{len(paths)} images"
    assert set(err) == {paths[info["ids"].index(info["missing"])], paths[info["ids"].index(info["corrupt"])]}
    assert len(cache.store.index()) == len(paths) - 2  # every chunk stored
    ok1, ve1, err1 = PerceptualCache(tmp_path / "c2", dc, VP, output="features", workers=0).get(paths)
    assert np.array_equal(ok, ok1) and np.array_equal(ve.owner, ve1.owner) and set(err) == set(err1)
    np.testing.assert_allclose(ve.emb, ve1.emb, atol=1e-6)
    assert ve.emb.shape[1] == dc.disentangler.cfg.image_in_dim  # backbone features, not perceptual


def test_train_ava_learns_the_fixture_and_saves_a_loadable_head(dc, tmp_path):
    info = make_ava(tmp_path / "ava")
    from declip_core.training.config import FeatureFitConfig

    fit = FeatureFitConfig(epochs=40, batch_pairs=256, dropout=0.1, members=2)
    res = train_ava(tmp_path / "ava", tmp_path / "out", dc, attribute_head="zeroshot", fit=fit, margin=0.3,
                    cache_dir=tmp_path / "c", **FAST)
    r = res.report
    assert res.path == tmp_path / "out" / "iqa-aes.safetensors" and r.split == "official lists"
    assert r.n_images["test"] == len(info["test"])
    # the fixture's brightness carries the rating: a head that learned nothing fails these
    assert r.srcc > 0.7 and r.plcc_linear > 0.6 and r.val_srcc == r.val_srcc
    assert r.accuracy >= r.majority_accuracy - 0.1 and 0.0 <= r.accuracy <= 1.0
    bad = {Path(p).stem: why for p, why in r.problems}
    assert set(bad) == {info["missing"], info["corrupt"]} and "does not exist" in bad[info["missing"]]
    saved = json.loads((tmp_path / "out" / "ava_report.json").read_text())
    assert saved["srcc"] == pytest.approx(r.srcc) and saved["checkpoint"] == str(res.path)
    assert "| SRCC |" in r.markdown()

    qm = create_quality_model("aes", checkpoint=tmp_path / "out", declip=dc)
    assert qm.head_type == "features" and qm.views == default_views("aes") and len(qm.head.nets) == 2
    # the loaded head scores images as the trained one did
    test_paths = [str(tmp_path / "ava" / "images" / f"{i}.jpg") for i in info["test"]]
    _, ve, _ = PerceptualCache(tmp_path / "c", dc, qm.views, output="features", workers=0).get(test_paths)
    np.testing.assert_allclose(predict(qm.head, ve), predict(res.model.head, ve), atol=1e-6)
    img = torch.from_numpy(np.asarray(Image.open(test_paths[0]), dtype=np.float32) / 255).permute(2, 0, 1)
    with torch.no_grad():
        assert float(qm(img[None])) == pytest.approx(float(predict(qm.head, ve)[0]), abs=1e-4)

    # the same images with every rating mirrored (votes for s counted for 11 - s): the head follows the labels
    txt = tmp_path / "ava" / "AVA.txt"
    txt.write_text("".join(" ".join(f[:2] + f[2:12][::-1] + f[12:]) + "\n"
                           for f in (line.split() for line in txt.read_text().splitlines())))
    mirrored = train_ava(tmp_path / "ava", tmp_path / "out2", dc, attribute_head="zeroshot", fit=fit, margin=0.3,
                         cache_dir=tmp_path / "c", **FAST)
    assert mirrored.report.srcc > 0.7


def test_train_ava_takes_the_view_policy_of_the_aes_metric(dc, tmp_path, monkeypatch):
    """The views come from default_views('aes') at run time (here patched to the multi-view crops policy)."""
    make_ava(tmp_path / "ava", n=24)
    monkeypatch.setattr(ava_mod, "default_views", lambda metric: ViewPolicy("crops", side=24))
    from declip_core.training.config import FeatureFitConfig

    res = train_ava(tmp_path / "ava", tmp_path / "out", dc, attribute_head="zeroshot",
                    fit=FeatureFitConfig(epochs=2, batch_pairs=64), cache_dir=tmp_path / "c", **FAST)
    assert res.report.views == ViewPolicy("crops", side=24).to_dict()
    assert create_quality_model("aes", checkpoint=tmp_path / "out", declip=dc).views == ViewPolicy("crops", side=24)
    assert res.report.pairs > 0


def test_train_ava_rejects_bad_arguments_before_loading_a_model(tmp_path):
    make_ava(tmp_path / "ava", n=8)
    with pytest.raises(ValueError, match="attribute_head"):
        train_ava(tmp_path / "ava", tmp_path / "o", "no-such-declip", attribute_head="nope")
    with pytest.raises(ValueError, match="margin"):
        train_ava(tmp_path / "ava", tmp_path / "o", "no-such-declip", margin=0)
    with pytest.raises(ValueError, match="not an existing folder"):
        train_ava(tmp_path / "nothing", tmp_path / "o", "no-such-declip")


# ------------------------------------------------------------------ the documented command
def test_config_command_rejects_a_missing_ava_root(tmp_path):
    from declip_core.training.cli import train

    rc = train.main(["--config", str(ROOT / "training" / "configs" / "lite-aes-ava.yaml"), "--set",
                     f"ava.root={tmp_path / 'no-ava'}", f"out={tmp_path / 'out'}", "threads=0"])
    assert rc == 2 and not (tmp_path / "out" / "iqa-aes.safetensors").exists()


def test_config_command_trains_lite_aes_on_the_fixture(tmp_path, capsys):
    """training/train.py --config training/configs/lite-aes-ava.yaml on the fixture (in this process), with the
    shipped lite DeCLIP; the head loads through create_quality_model and pyiqa."""
    from declip_core.training.cli import train

    make_ava(tmp_path / "ava", n=16)
    rc = train.main(["--config", str(ROOT / "training" / "configs" / "lite-aes-ava.yaml"), "--set",
                     f"ava.root={tmp_path / 'ava'}", f"out={tmp_path / 'out'}", f"cache_dir={tmp_path / 'c'}",
                     "ava.workers=0", "feature_head.epochs=2", "threads=0"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "| SRCC |" in out.out and "official lists" in out.out
    rep = json.loads((tmp_path / "out" / "ava_report.json").read_text())
    assert {"srcc", "plcc", "plcc_linear", "accuracy", "majority_accuracy"} <= set(rep)
    assert rep["views"] == default_views("aes").to_dict()
    assert (tmp_path / "out" / "resolved_config.yaml").is_file()
    qm = create_quality_model("aes", checkpoint=tmp_path / "out")
    assert qm.head_type == "features"
    shipped = create_quality_model("aes", declip=qm.declip)
    assert qm.attribute_head.attributes == shipped.attribute_head.attributes  # the shipped attributes kept
    import pyiqa

    import pyiqa_plugin  # noqa: F401

    m = pyiqa.create_metric("declip_aes", checkpoint=str(tmp_path / "out"), device="cpu")
    img = torch.from_numpy(np.asarray(Image.open(tmp_path / "ava" / "images" / f"{_first_test_id(tmp_path)}.jpg"),
                                      dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        assert float(m(img)) == pytest.approx(float(qm(img)), abs=1e-5)


def _first_test_id(tmp_path: Path) -> str:
    """The first image id of the fixture's test list."""
    return (tmp_path / "ava" / "aesthetics_image_lists" / "generic_test.jpgl").read_text().split()[0]
