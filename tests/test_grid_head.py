"""Per-cell features, the GridHead, the fragments view and the quality map, on tiny models and tensors."""
from __future__ import annotations

import math

import pytest
import torch

from declip_core.backbones.base import local_features
from declip_core.iqa.heads import GridHead
from declip_core.views import ViewPolicy, fragment_mosaic, fragment_starts


def test_fragment_starts_cover_the_image_continuously():
    vp = ViewPolicy("fragments", side=32, grid=7)
    assert fragment_starts(224, vp) == [0, 32, 64, 96, 128, 160, 192]  # the image itself
    for n in (200, 224, 225, 1000, 5000):
        s = fragment_starts(n, vp)
        assert s[0] == 0 and s[-1] == n - min(32, n) and s == sorted(s)
    # one more pixel moves each start by at most one pixel: no jump at any size
    for n in range(40, 600, 7):
        a, b = fragment_starts(n, vp), fragment_starts(n + 1, vp)
        assert max(abs(x - y) for x, y in zip(a, b)) <= 1


def test_mosaic_is_the_image_at_grid_times_side():
    x = torch.rand(2, 3, 224, 224)
    assert torch.equal(fragment_mosaic(x, ViewPolicy("fragments", side=32, grid=7)), x)
    y = torch.rand(1, 3, 20, 30)  # smaller than a fragment: fragments of the short side, overlapping
    assert fragment_mosaic(y, ViewPolicy("fragments", side=32, grid=7)).shape == (1, 3, 140, 140)


def test_local_features_match_the_whole_image_layout():
    from declip_core.testing import TinyBackbone

    bb = TinyBackbone(0)
    x = torch.rand(2, 3, 64, 64)
    f = bb.encode_image(x, with_levels=True)
    loc = local_features(f, 4)  # (2, 16, D)
    assert loc.shape == (2, 16, f.vector().shape[1])
    # cell means of the last map average to the pooled feature; the first level's cell stats are the stats
    # of that cell's crop of the level map
    assert torch.allclose(loc[:, :, : f.pooled.shape[1]].mean(1), f.pooled, atol=1e-6)
    lv = f.levels[0]  # (2, 8, 32, 32): cell (1, 2) is rows 8..16, cols 16..24
    cell = lv[:, :, 8:16, 16:24]
    c = f.pooled.shape[1]
    std, mean = torch.std_mean(cell.flatten(2), dim=2, unbiased=False)
    assert torch.allclose(loc[:, 1 * 4 + 2, c: c + 8], mean, atol=1e-5)
    assert torch.allclose(loc[:, 1 * 4 + 2, c + 8: c + 16], std, atol=1e-4)
    with pytest.raises(ValueError):
        local_features(bb.encode_image(x), 4)  # no levels


def test_grid_head_pooling():
    torch.manual_seed(0)
    h = GridHead(12, proj_dim=6, hidden=8, members=2)
    x = torch.randn(3, 1 + 49, 12)  # the whole view, then 49 cells
    cells = h.cell_scores(x)
    assert cells.shape == (3, 49) and bool(((cells >= 0) & (cells <= 1)).all())
    assert torch.allclose(h(x), cells.mean(1))  # pool_tau inf, whole_weight 0: the mean of the cells
    h.pool_tau.fill_(0.05)
    soft = h(x)
    assert bool((soft <= cells.mean(1) + 1e-6).all()) and bool((soft >= cells.min(1).values - 1e-6).all())
    h.whole_weight.fill_(1.0)
    assert torch.allclose(h(x), h.whole(x[:, 0]))  # whole_weight 1: the whole-view head alone
    h.whole_weight.fill_(0.5)
    assert torch.allclose(h(x), 0.5 * soft + 0.5 * h.whole(x[:, 0]))
    with pytest.raises(ValueError):
        h(torch.randn(3, 12))


def test_grid_head_checkpoint_round_trip_and_map(tmp_path):
    from declip_core.inference import freeze
    from declip_core.iqa.model import QualityModel, load_quality_head, save_quality_head, zero_shot_head
    from declip_core.testing import tiny_declip

    dc = tiny_declip()
    d = dc.disentangler.cfg.image_in_dim
    torch.manual_seed(1)
    head = GridHead(d, proj_dim=8, hidden=4, members=2, pool_tau=0.1, whole_members=2, whole_weight=0.25)
    vp = ViewPolicy("fragments", side=8, grid=4)  # tiny: 32-px views, cells of 32 px -> one cell
    qm = freeze(QualityModel(dc, "tech", head, zero_shot_head(dc, "tech"), "grid", vp))
    assert "grid" in qm.outputs
    x = torch.rand(2, 3, 50, 70)
    s = qm(x)
    assert s.shape == (2,) and bool(((s >= 0) & (s <= 1)).all())
    m = qm.score_map(x)
    side = round(math.sqrt(m[0].numel()))
    assert m.shape == (2, side, side)
    p = save_quality_head(tmp_path / "grid.safetensors", qm)
    back = load_quality_head(p, dc)
    assert isinstance(back.head, GridHead) and back.views == vp and float(back.head.pool_tau) == pytest.approx(0.1)
    assert float(back.head.whole_weight) == pytest.approx(0.25) and len(back.head.whole.nets) == 2
    assert torch.allclose(back(x), s)


def test_fit_grid_head_learns_ladders():
    """On cells whose features drift with the level, the fitted head ranks the ladders (and its pool_tau is one
    of the candidates)."""
    import numpy as np

    from declip_core.training.config import FeatureFitConfig
    from declip_core.training.fragment_fit import POOL_TAUS, WHOLE_WEIGHTS, _val_srcc, fit_grid_head
    from declip_core.training.quality_fit import Ladders
    from declip_core.training.ranking import ladder_pairs

    torch.manual_seed(0)
    n, c, d = 60, 9, 20
    lvl = torch.arange(n) % 6
    local = torch.randn(n, 1 + c, d) + lvl[:, None, None].float() * torch.linspace(0, 1, d)
    grp = [f"g{i // 6}" for i in range(n)]
    b, w = ladder_pairs(grp, lvl.tolist())
    lad = Ladders(np.arange(n), lvl.numpy(), grp, ["t"] * n)
    h = fit_grid_head(local, b, w, local, lad, FeatureFitConfig(epochs=20, batch_pairs=64, members=2, hidden=8),
                      proj_dim=8, whole_cfg=FeatureFitConfig(epochs=5, batch_pairs=64, hidden=8))
    assert len(h.nets) == 2 and any(float(h.pool_tau) == pytest.approx(t) for t in POOL_TAUS)
    assert any(float(h.whole_weight) == pytest.approx(t) for t in WHOLE_WEIGHTS)
    assert _val_srcc(h, local, lad)["srcc"] > 0.8
