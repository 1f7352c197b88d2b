"""FeatureHead: a tech head on the backbone features (fit by ladder ranking, saved, loaded, scored)."""
import pytest
import torch

from declip_core.iqa.heads import FeatureHead
from declip_core.iqa.model import QualityModel, load_quality_head, save_quality_head, zero_shot_head
from declip_core.testing import tiny_declip
from declip_core.training.config import FeatureFitConfig
from declip_core.training.quality_fit import fit_feature_head, ladders_of


def _ladder_set(d_in: int, n_crops: int, seed: int, direction: torch.Tensor):
    """Features of n_crops ladders: level 0..5 moves the features along `direction` (severity)."""
    g = torch.Generator().manual_seed(seed)
    feats, crops, chains = [], [], []
    for c in range(n_crops):
        base = torch.randn(d_in, generator=g) * 2
        for lv in range(6):
            feats.append(base + 0.5 * lv * direction)
            crops.append(c)
            chains.append([] if lv == 0 else [("gaussian_blur", lv)])
    return torch.stack(feats), ladders_of(crops, chains)


def test_fit_feature_head_ranks_unseen_ladders():
    d_in = 40
    direction = torch.randn(d_in, generator=torch.Generator().manual_seed(9))
    f, lad = _ladder_set(d_in, 16, 1, direction)
    fv, lad_v = _ladder_set(d_in, 6, 2, direction)
    b, w = lad.pairs()
    head, hist = fit_feature_head(f, b, w, fv, lad_v, FeatureFitConfig(epochs=8, batch_pairs=128, dropout=0.1))
    assert len(hist) == 8 and max(h["val_srcc"] for h in hist) > 0.9
    with torch.no_grad():
        s = head(fv).view(6, 6)  # (crop, level)
    assert bool((s[:, :-1] > s[:, 1:]).float().mean() > 0.9)  # better levels score higher
    assert not any(p.requires_grad for p in head.parameters()) and not head.training
    with pytest.raises(ValueError):
        fit_feature_head(f, b[:0], w[:0], fv, lad_v)
    with pytest.raises(ValueError):
        head(f[:, :5])  # wrong feature width


def test_feature_head_round_trip_and_scoring(tmp_path):
    dc = tiny_declip()
    d_in = dc.disentangler.cfg.image_in_dim
    head = FeatureHead(d_in, hidden=8)
    torch.nn.init.normal_(head.nets[0][0].weight)
    head.mean.normal_()
    qm = QualityModel(dc, "tech", head, zero_shot_head(dc, "tech"), "features").eval()
    assert qm.head_input == "features" and qm.outputs == ("perceptual", "features")
    x = torch.rand(2, 3, 48, 40)
    s, attrs = qm.score_with_attributes(x)
    assert s.shape == (2,) and torch.allclose(s, qm(x)) and set(attrs) == set(qm.attribute_head.attributes)
    path = save_quality_head(tmp_path / "h.safetensors", qm)
    back = load_quality_head(path, dc)
    assert isinstance(back.head, FeatureHead) and torch.allclose(back(x), qm(x))
    with pytest.raises(ValueError, match="reads backbone features"):
        qm.score_perceptual(torch.randn(2, dc.perceptual_dim))


def test_cpu_backbone_chunks_give_the_same_features():
    """DeCLIP runs the backbone CPU_CHUNK images at a time on the CPU: same values as one image at a time."""
    from declip_core.backbones.base import CPU_CHUNK

    dc = tiny_declip()
    x = torch.rand(2 * CPU_CHUNK + 1, 3, 32, 32)
    with torch.no_grad():
        whole = dc.features(x)
        one_by_one = torch.cat([dc.features(x[i : i + 1]) for i in range(len(x))])
    assert whole.shape[0] == len(x) and torch.allclose(whole, one_by_one, atol=1e-5)
    y = x.clone().requires_grad_(True)
    dc.features(y).sum().backward()  # differentiable through the chunks
    assert y.grad is not None and bool((y.grad.abs().sum(dim=(1, 2, 3)) > 0).all())


def test_feature_attribute_head_fit_round_trip_and_scoring(tmp_path):
    from declip_core.iqa.heads import FeatureAttributeHead
    from declip_core.training.quality_fit import fit_feature_attribute_head

    d_in = 24
    g = torch.Generator().manual_seed(3)
    feats = torch.randn(120, d_in, generator=g)
    targets = torch.stack([torch.sigmoid(feats[:, 0] * 3), torch.sigmoid(-feats[:, 1] * 3)], dim=1)  # (N, 2)
    targets[:5, 1] = float("nan")  # no opinion
    order = torch.argsort(feats[:, 0], descending=True)
    pairs = [(order[:-1], order[1:]), (torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long))]
    head = fit_feature_attribute_head(feats, targets, pairs, ("a", "b"), FeatureFitConfig(epochs=30, dropout=0.0),
                                      batches=2)
    p = head.attribute_probs(feats)
    assert p.shape == (120, 2) and not head.training
    assert torch.corrcoef(torch.stack([p[:, 0], feats[:, 0]]))[0, 1] > 0.8
    assert torch.corrcoef(torch.stack([p[:, 1], -feats[:, 1]]))[0, 1] > 0.8
    with pytest.raises(ValueError):
        fit_feature_attribute_head(feats, targets[:, :1], pairs, ("a", "b"))

    dc = tiny_declip()
    fah = FeatureAttributeHead(("sharpness", "noise"), dc.disentangler.cfg.image_in_dim, hidden=8)
    qm = QualityModel(dc, "tech", zero_shot_head(dc, "tech"), fah, "zeroshot").eval()
    assert qm.outputs == ("perceptual", "features")
    x = torch.rand(2, 3, 40, 40)
    s, attrs = qm.score_with_attributes(x)
    assert set(attrs) == {"sharpness", "noise"} and attrs["noise"].shape == (2,)
    back = load_quality_head(save_quality_head(tmp_path / "a.safetensors", qm), dc)
    assert isinstance(back.attribute_head, FeatureAttributeHead)
    assert torch.allclose(back.attribute_scores(x)["noise"], attrs["noise"])


def test_feature_head_ensemble_is_the_mean_of_its_members_and_round_trips(tmp_path):
    d_in = 40
    direction = torch.randn(d_in, generator=torch.Generator().manual_seed(9))
    f, lad = _ladder_set(d_in, 16, 1, direction)
    fv, lad_v = _ladder_set(d_in, 6, 2, direction)
    b, w = lad.pairs()
    cfg = FeatureFitConfig(epochs=3, batch_pairs=128, dropout=0.1, members=2)
    head, hist = fit_feature_head(f, b, w, fv, lad_v, cfg)
    assert len(head.nets) == 2 and [h["member"] for h in hist] == [0, 0, 0, 1, 1, 1]
    single = [fit_feature_head(f, b, w, fv, lad_v, FeatureFitConfig(epochs=3, batch_pairs=128, dropout=0.1, seed=s))[0]
              for s in (0, 1)]
    with torch.no_grad():
        torch.testing.assert_close(head(fv), (single[0](fv) + single[1](fv)) / 2)  # members = seeds 0 and 1
        assert not torch.equal(single[0](fv), single[1](fv))
    dc = tiny_declip()
    d = dc.disentangler.cfg.image_in_dim
    ens = FeatureHead.ensemble([FeatureHead(d, hidden=8), FeatureHead(d, hidden=8), FeatureHead(d, hidden=8)])
    for p in ens.parameters():
        torch.nn.init.normal_(p)
    p = save_quality_head(tmp_path / "ens.safetensors", QualityModel(dc, "tech", ens, zero_shot_head(dc, "tech"), "features"))
    back = load_quality_head(p, dc)
    x = torch.randn(4, d)
    with torch.no_grad():
        torch.testing.assert_close(back.head(x), ens(x), atol=0, rtol=0)
    assert len(back.head.nets) == 3
    other = FeatureHead(d, hidden=8)
    other.mean.fill_(1.0)
    with pytest.raises(ValueError, match="standardisation"):
        FeatureHead.ensemble([ens, other])
    with pytest.raises(ValueError, match="members"):
        FeatureHead(d, members=0)


def test_one_member_checkpoints_of_the_v3_format_still_load(tmp_path):
    """v3 heads stored the single MLP as `head.net.*`; they load as a one-member head with equal scores."""
    from declip_core.checkpoint import load_checkpoint, save_checkpoint
    from declip_core.constants import HEAD_KIND

    dc = tiny_declip()
    d = dc.disentangler.cfg.image_in_dim
    head = FeatureHead(d, hidden=8)
    torch.nn.init.normal_(head.nets[0][0].weight)
    p = save_quality_head(tmp_path / "h.safetensors", QualityModel(dc, "tech", head, zero_shot_head(dc, "tech"), "features"))
    tensors, cfg = load_checkpoint(p)
    old = {k.replace("head.nets.0.", "head.net."): v for k, v in tensors.items()}
    assert any(k.startswith("head.net.") for k in old)
    p_old = save_checkpoint(tmp_path / "old.safetensors", old, {**cfg, "kind": HEAD_KIND})
    x = torch.randn(3, d)
    with torch.no_grad():
        torch.testing.assert_close(load_quality_head(p_old, dc).head(x), head(x), atol=0, rtol=0)
