"""Training items of the fragment head (tech_data) and of the aesthetic head (aesthetic_head): plans, ladders,
pairs; the training commands' argument and data errors."""
from __future__ import annotations

import numpy as np
import pytest

from declip_core.training.aesthetic_head import (AesItem, aesthetic_ladders, aesthetic_pairs, attribute_pairs,
                                                 attribute_targets, pair_accuracy, plan_items, render_item)
from declip_core.training.config import DEFAULT_HELDOUT_TYPES
from declip_core.training.tech_data import TechItem, grey_copy, plan_tech_items, render_tech_item, tech_ladders


def test_tech_plan_is_deterministic_and_keeps_heldout_types_out():
    a = plan_tech_items([f"c{i}" for i in range(20)], DEFAULT_HELDOUT_TYPES, uniform=2, region=1, grey_fraction=0.5)
    assert a == plan_tech_items([f"c{i}" for i in range(20)], DEFAULT_HELDOUT_TYPES, uniform=2, region=1,
                                grey_fraction=0.5)
    assert not {it.type for it in a} & set(DEFAULT_HELDOUT_TYPES)
    assert any(it.grey for it in a) and any(it.region for it in a)
    per_crop = [it for it in a if it.crop == "c0" and not it.grey]
    assert sum(it.level == 0 for it in per_crop) == 1 and len(per_crop) == 1 + 2 * 5 + 1 * 5
    with pytest.raises(ValueError):
        plan_tech_items(["c"], DEFAULT_HELDOUT_TYPES, grey_fraction=1.5)


def test_tech_ladders_put_each_clean_original_under_its_own_ladders():
    items = [TechItem("c", False, "", 0, "", 0), *[TechItem("c", False, "jpeg", lv, "", 0) for lv in (1, 2)],
             *[TechItem("c", False, "gaussian_blur", lv, "half_left", 0) for lv in (1, 2)],
             TechItem("c", True, "", 0, "", 0), TechItem("c", True, "jpeg", 1, "", 0)]
    lad = tech_ladders(items)
    groups = dict.fromkeys(lad.group)
    assert len(groups) == 3
    b, w = lad.pairs()
    pairs = set(zip(b.tolist(), w.tolist()))
    assert (0, 1) in pairs and (1, 2) in pairs and (0, 3) in pairs and (5, 6) in pairs
    assert (0, 6) not in pairs and (5, 1) not in pairs  # the grey original is not the colour one's level 0


def test_tech_render():
    rgb = np.random.default_rng(0).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    g = render_tech_item(TechItem("c", True, "", 0, "", 0), rgb)
    assert np.array_equal(g, grey_copy(rgb)) and np.array_equal(g[..., 0], g[..., 2])
    r = render_tech_item(TechItem("c", False, "white_noise", 3, "quadrant_tl", 0), rgb)
    assert r.shape == rgb.shape and np.array_equal(r[-10:, -10:], rgb[-10:, -10:])


def test_aesthetic_pairs_and_ladders():
    items = plan_items(["p"], seeds=(0,), damage_types=("jpeg",), edits=("tilt",))
    assert [it.kind for it in items].count("original") == 2  # and its mirror image
    b, w = aesthetic_pairs(items)
    pairs = set(zip(b.tolist(), w.tolist()))
    o, m = 0, 1
    tilt = {it.level: i for i, it in enumerate(items) if it.name == "tilt"}
    assert {(o, tilt[1]), (m, tilt[3]), (tilt[1], tilt[2]), (tilt[2], tilt[3])} <= pairs
    assert (tilt[1], tilt[3]) not in pairs  # strengths are chained, not all pairs
    lad = aesthetic_ladders(items)
    assert sorted(set(lad.type)) == ["jpeg", "tilt"] and lad.level.max() == 3
    acc = pair_accuracy(np.arange(len(items))[::-1].astype(float), items, b, w)
    assert acc["all"] == 1.0  # scores falling along the list: every original and milder edit wins
    t = attribute_targets(items)
    assert t[tilt[2], 0] == pytest.approx(0.5) and t[tilt[2], 1] == 1.0 and t[o].tolist() == [1.0, 1.0, 1.0]
    comp, light, _ = attribute_pairs(items, b, w)
    assert len(comp[0]) > 0 and len(light[0]) == 0


def test_aesthetic_render_mirror():
    rgb = np.random.default_rng(1).integers(0, 256, size=(32, 48, 3), dtype=np.uint8)
    assert np.array_equal(render_item(AesItem("p", "original", "mirror", 0, 0), rgb), rgb[:, ::-1])
    with pytest.raises(ValueError):
        render_item(AesItem("p", "bogus", "", 0, 0), rgb)


@pytest.mark.parametrize("module", ["train_tech", "train_aes"])
def test_training_commands_name_a_missing_collection(module, tmp_path, capsys):
    import importlib

    main = importlib.import_module(f"declip_core.training.cli.{module}").main
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    assert str(tmp_path) in capsys.readouterr().err
