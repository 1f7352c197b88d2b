"""Ladder ranking loss, within-group figures, and the tech / attribute head fits on tiny tensors."""
import math

import numpy as np
import pytest
import torch

from declip_core.iqa import AttributeHead, QualityModel, RegressionHead, load_quality_head, save_quality_head
from declip_core.testing import tiny_declip
from declip_core.training.quality_fit import (TECH_ATTRIBUTES, FitConfig, attribute_family, attribute_targets,
                                              fit_attribute_head, fit_tech_head, flat_frame_targets, flat_frames,
                                              ladders_of)
from declip_core.training.ranking import (group_2afc, group_srcc, ladder_figures, ladder_pairs, ranking_loss,
                                          within_group_summary)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny full-batch fits: one intra-op thread is many times faster on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_ladder_pairs_stay_inside_groups_and_point_to_the_lower_level():
    b, w = ladder_pairs(["a", "a", "a", "b", "b", "c"], [0, 2, 1, 3, 3, 0])
    pairs = set(zip(b.tolist(), w.tolist()))
    assert pairs == {(0, 1), (0, 2), (2, 1)}  # b has equal levels, c one image: no pair
    b, w = ladder_pairs(["x"], [1])
    assert b.numel() == 0 and w.numel() == 0
    with pytest.raises(ValueError):
        ladder_pairs(["a", "b"], [0])


def test_ranking_loss_sign_and_zero_cases():
    b, w = torch.tensor([0]), torch.tensor([1])
    right = ranking_loss(torch.tensor([0.9, 0.1]), b, w)
    wrong = ranking_loss(torch.tensor([0.1, 0.9]), b, w)
    tie = ranking_loss(torch.tensor([0.5, 0.5]), b, w)
    assert right < tie < wrong
    assert float(right) < 1e-6  # ordered by a wide margin: (almost) nothing to learn
    assert float(wrong) == pytest.approx(0.8 + 0.05 * math.log1p(math.exp(-0.8 / 0.05)), rel=1e-4)
    s = torch.tensor([0.3, 0.2], requires_grad=True)
    empty = ranking_loss(s, torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64))
    assert float(empty.detach()) == 0.0
    empty.backward()
    assert s.grad is not None and float(s.grad.abs().sum()) == 0.0
    s = torch.tensor([0.1, 0.9], requires_grad=True)
    ranking_loss(s, b, w).backward()
    assert s.grad[0] < 0 < s.grad[1]  # descent raises the better image, lowers the worse one
    with pytest.raises(ValueError):
        ranking_loss(s, b, w, temperature=0.0)


def test_group_figures_on_toy_ladders():
    assert group_srcc([5, 4, 3, 2, 1, 0]) == pytest.approx(1.0)
    assert group_srcc([0, 1, 2, 3, 4, 5]) == pytest.approx(-1.0)
    assert group_srcc([1, 1, 1]) == 0.0  # constant: no information, not skipped
    assert group_2afc([3, 2, 1]) == (3.0, 3)
    assert group_2afc([1, 1, 0]) == (2.5, 3)  # a tie counts half
    with pytest.raises(ValueError):
        group_srcc([1.0, float("nan")])
    # two ladders: one perfect, one reversed; a third with a single level is left out
    scores = [3, 2, 1, 1, 2, 3, 7]
    levels = [0, 1, 2, 0, 1, 2, 0]
    groups = ["a", "a", "a", "b", "b", "b", "c"]
    f = ladder_figures(scores, levels, groups)
    assert set(f) == {"a", "b"}
    s = within_group_summary(scores, levels, groups)
    assert s["srcc"] == pytest.approx(0.0) and s["2afc"] == pytest.approx(0.5) and s["ladders"] == 2


def test_ladders_put_the_clean_crop_at_level_zero_of_each_type():
    crops = ["c1", "c1", "c1", "c1", "c2", "c2"]
    chains = [[], [("jpeg", 2)], [("jpeg", 4)], [("darken", 1), ("jpeg", 1)], [("white_noise", 3)], []]
    lad = ladders_of(crops, chains)
    assert sorted(zip(lad.group, lad.level.tolist(), lad.idx.tolist())) == [
        ("c1|jpeg", 0, 0), ("c1|jpeg", 2, 1), ("c1|jpeg", 4, 2), ("c2|white_noise", 0, 5), ("c2|white_noise", 3, 4)]
    b, w = lad.pairs()
    assert set(zip(b.tolist(), w.tolist())) == {(0, 1), (0, 2), (1, 2), (5, 4)}
    assert lad.select_types({"white_noise"}).group == ["c2|white_noise", "c2|white_noise"]


def test_attribute_targets_follow_their_own_family():
    assert "gaussian_blur" in attribute_family("sharpness") and "contrast_change" in attribute_family("contrast")
    t = attribute_targets([[], [("gaussian_blur", 5)], [("white_noise", 1), ("jpeg", 3)]])
    a = {n: i for i, n in enumerate(TECH_ATTRIBUTES)}
    assert np.allclose(t[0], 1.0)
    assert t[1, a["sharpness"]] == pytest.approx(0.1) and t[1, a["noise"]] == 1.0
    assert t[2, a["noise"]] == pytest.approx(0.82) and t[2, a["compression"]] == pytest.approx(0.46)
    with pytest.raises(ValueError):
        attribute_family("no_such_attribute")


def _toy_ladders(n_crops: int = 12, seed: int = 0):
    """Embeddings where dims 0/1 carry two distortion families' severity and the rest is crop content."""
    g = torch.Generator().manual_seed(seed)
    emb, crops, chains = [], [], []
    for c in range(n_crops):
        content = torch.randn(6, generator=g)
        for t, d in (("gaussian_blur", 0), ("white_noise", 1)):
            for lv in range(0, 6):
                x = torch.cat([torch.zeros(2), content])
                x[d] = lv / 5 + 0.05 * torch.randn(1, generator=g).item()
                emb.append(x), crops.append(f"c{c}"), chains.append([(t, lv)] if lv else [])
    return torch.stack(emb), crops, chains


def test_tech_head_fit_ranks_held_out_ladders():
    emb, crops, chains = _toy_ladders()
    lad = ladders_of(crops, chains)
    b, w = lad.pairs()
    target = torch.tensor([1.0 - 0.18 * max([lv for _, lv in ch], default=0) for ch in chains])
    head = fit_tech_head(emb, target, b, w, FitConfig(epochs=300, hidden=16))
    emb2, crops2, chains2 = _toy_ladders(seed=1)
    lad2 = ladders_of(crops2, chains2)
    with torch.no_grad():
        s = head(emb2).numpy()
    f = within_group_summary(s[lad2.idx], lad2.level, lad2.group)
    assert f["srcc"] > 0.9 and f["2afc"] > 0.9
    # ranking alone (no regression target) orders too
    head_r = fit_tech_head(emb, torch.full_like(target, float("nan")), b, w, FitConfig(epochs=300, hidden=16))
    with torch.no_grad():
        assert within_group_summary(head_r(emb2).numpy()[lad2.idx], lad2.level, lad2.group)["srcc"] > 0.9
    with pytest.raises(ValueError):
        fit_tech_head(emb, target[:3], b, w)


def test_attribute_head_fit_is_monotone_in_its_own_family_only():
    emb, crops, chains = _toy_ladders()
    attrs = ("sharpness", "noise")
    lad = ladders_of(crops, chains)
    tg = torch.from_numpy(attribute_targets(chains, attrs))
    pairs = [lad.select_types(set(attribute_family(a))).pairs() for a in attrs]
    head = fit_attribute_head(emb, tg, pairs, attrs, FitConfig(epochs=400, hidden=16))
    emb2, crops2, chains2 = _toy_ladders(seed=1)
    lad2 = ladders_of(crops2, chains2)
    with torch.no_grad():
        p = head.attribute_probs(emb2).numpy()
    for j, a in enumerate(attrs):
        own = lad2.select_types(set(attribute_family(a)))
        assert within_group_summary(p[own.idx, j], own.level, own.group)["srcc"] > 0.9
    clean = [i for i, ch in enumerate(chains2) if not ch]
    assert p[clean].mean() > 0.8  # high on clean
    assert p.min() < 0.3  # uses the range


def test_flat_frame_targets():
    names, x = flat_frames(16)
    assert x.shape == (len(names), 3, 16, 16) and float(x.max()) <= 1.0
    tech, a = flat_frame_targets(names)
    col = {n: i for i, n in enumerate(TECH_ATTRIBUTES)}
    k = names.index("black")
    assert tech[k] < 0.1 and a[k, col["contrast"]] == 0.0 and a[k, col["noise"]] == 1.0 and a[k, col["exposure"]] == 0.0
    assert math.isnan(a[names.index("grey"), col["exposure"]])


def test_attribute_head_round_trips_in_a_head_checkpoint(tmp_path):
    dc = tiny_declip(seed=1)
    dc.checkpoint_sha256 = "c" * 64
    ah = AttributeHead(TECH_ATTRIBUTES, dc.perceptual_dim, hidden=8)
    qm = QualityModel(dc, "tech", RegressionHead(dc.perceptual_dim, hidden=8), ah, "regression").eval()
    x = torch.rand(2, 3, 32, 40)
    before = qm.attribute_scores(x)
    q2 = load_quality_head(save_quality_head(tmp_path / "h.safetensors", qm), dc)
    assert isinstance(q2.attribute_head, AttributeHead)
    after = q2.attribute_scores(x)
    assert set(after) == set(TECH_ATTRIBUTES)
    for k in before:
        assert torch.equal(before[k], after[k])


def test_subset_by_crop_keeps_whole_crops_spread_over_photos():
    from pathlib import Path

    from declip_core.training.data.manifest import Row
    from declip_core.training.pipeline import subset_by_crop

    rows = [Row(Path(f"{p}{c}{k}.png"), {"photo_id": p, "crop_id": f"{p}/{c}"})
            for p in "abc" for c in range(4) for k in range(3)]
    sub = subset_by_crop(rows, max_crops=4)
    crops = {r["crop_id"] for r in sub}
    assert len(crops) == 4 and len(sub) == 12  # every row of a kept crop
    assert {c.split("/")[0] for c in crops} == {"a", "b", "c"}  # spread over the photos first
    per = subset_by_crop(rows, None, per_photo=1)
    assert len({r["crop_id"] for r in per}) == 3
    assert subset_by_crop(rows, None) == rows
    assert subset_by_crop(rows[::-1], 4) == subset_by_crop(rows, 4)[::-1]  # independent of row order
