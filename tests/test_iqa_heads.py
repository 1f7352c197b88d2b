import pytest
import torch

from declip_core.iqa import QualityModel, RegressionHead, ZeroShotHead, load_quality_head, save_quality_head
from declip_core.iqa.model import zero_shot_head
from declip_core.testing import tiny_declip
from declip_core.training.quality_heads import fit_regression_head, pairwise_accuracy, within_group_srcc


@pytest.fixture(scope="module")
def declip():
    m = tiny_declip(seed=1)
    m.checkpoint_sha256 = "a" * 64
    return m


def test_zero_shot_head_orders_by_anchor_similarity():
    anchors = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # one attribute: good = e0, bad = e1
    head = ZeroShotHead(["sharpness"], anchors, logit_scale=10.0)
    p = torch.nn.functional.normalize(torch.tensor([[1.0, 0.1], [0.1, 1.0]]), dim=-1)
    s = head(p)
    assert s[0] > 0.9 and s[1] < 0.1
    with pytest.raises(ValueError):
        ZeroShotHead(["a", "b"], anchors, 1.0)


def test_regression_head_fits_a_monotone_target():
    torch.manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(200, 8), dim=-1)
    y = torch.sigmoid(3 * x[:, 0])
    head = fit_regression_head(x, y, epochs=300)
    pred = head(x).detach()
    assert pred.shape == (200,) and bool(((pred > 0) & (pred < 1)).all())
    assert torch.corrcoef(torch.stack([pred, y]))[0, 1] > 0.95


def test_quality_model_scores_and_round_trip(declip, tmp_path):
    zs = zero_shot_head(declip, "tech")
    assert zs.anchors.shape == (6, 2, declip.perceptual_dim)
    reg = RegressionHead(declip.perceptual_dim)
    qm = QualityModel(declip, "tech", reg, zs, "regression").eval()
    x = torch.rand(3, 3, 40, 48)
    s = qm(x)
    assert s.shape == (3,) and qm.lower_better is False and qm.score_range == (0.0, 1.0)
    attrs = qm.attribute_scores(x)
    assert set(attrs) == {"sharpness", "noise", "exposure", "colour", "contrast", "compression"}
    p = save_quality_head(tmp_path / "h.safetensors", qm)
    q2 = load_quality_head(p, declip)
    assert torch.equal(q2(x), s)
    other = tiny_declip(seed=2)
    other.checkpoint_sha256 = "b" * 64
    with pytest.raises(ValueError, match="trained on DeCLIP"):
        load_quality_head(p, other)


def test_zero_shot_round_trip(declip, tmp_path):
    zs = zero_shot_head(declip, "aes")
    qm = QualityModel(declip, "aes", zs, zero_shot_head(declip, "tech"), "zeroshot")
    q2 = load_quality_head(save_quality_head(tmp_path / "z.safetensors", qm), declip)
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(q2(x), qm(x))


def test_as_loss_gradient_reaches_the_image(declip):
    qm = QualityModel(declip, "tech", RegressionHead(declip.perceptual_dim), zero_shot_head(declip, "tech"), "regression")
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    qm(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_within_group_srcc_and_2afc():
    scores = [0.9, 0.7, 0.5, 0.3, 0.1, 0.1, 0.3, 0.5]
    levels = [1, 2, 3, 4, 5, 1, 2, 3]
    groups = ["a"] * 5 + ["b"] * 3
    assert within_group_srcc(scores, levels, groups) == pytest.approx(0.0)  # +1 and -1
    assert within_group_srcc(scores[:5], levels[:5], groups[:5]) == pytest.approx(1.0)
    assert pairwise_accuracy({"x": 1.0, "y": 0.0}, [("x", "y"), ("y", "x")]) == 0.5


def test_views_crops_large_and_small_images(declip):
    from declip_core.views import ViewPolicy, make_views

    cfg = declip.backbone.info.preprocess  # 32-px tiny backbone
    vp = ViewPolicy("crops", side=40)
    big = torch.rand(2, 3, 60, 90)
    v = make_views(big, vp, cfg)
    assert v.shape == (2, 5, 3, 32, 32)
    # the first view is the top-left native crop, resized 40 -> 32
    from declip_core.transforms import resize_tensor01

    assert torch.allclose(v[:, 0], resize_tensor01(big[:, :, :40, :40], cfg))
    small = torch.rand(1, 3, 30, 36)  # shorter side below `side`: crops of the whole short side
    v = make_views(small, vp, cfg)
    assert v.shape == (1, 5, 3, 32, 32)
    assert torch.allclose(v[:, 0], resize_tensor01(small[:, :, :30, :30], cfg))
    assert make_views(big, ViewPolicy("crops", side=40, layout="grid", grid=3), cfg).shape == (2, 9, 3, 32, 32)
    assert make_views(big, ViewPolicy("resize"), cfg).shape == (2, 1, 3, 32, 32)
    with pytest.raises(ValueError):
        ViewPolicy("tiles")


def test_crop_policy_score_is_the_mean_of_view_scores(declip):
    from declip_core.views import ViewPolicy

    qm = QualityModel(declip, "tech", RegressionHead(declip.perceptual_dim), zero_shot_head(declip, "tech"),
                      "regression", ViewPolicy("crops", side=40)).eval()
    x = torch.rand(1, 3, 64, 80, requires_grad=True)
    s = qm(x)
    views = qm.make_views(x)
    per_view = torch.stack([qm.score_views(views[:, k : k + 1]) for k in range(5)])
    assert torch.allclose(s, per_view.mean(0), atol=1e-6)
    s.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_score_with_attributes_equals_forward_and_attribute_scores():
    """One backbone pass gives exactly what the two separate calls give (the ComfyUI score node uses it)."""
    from declip_core.iqa import create_quality_model

    q = create_quality_model("tech")
    x = torch.rand(2, 3, 300, 260, generator=torch.Generator().manual_seed(0))
    scores, attrs = q.score_with_attributes(x)
    assert torch.allclose(scores, q(x), atol=1e-6)
    separate = q.attribute_scores(x)
    assert attrs.keys() == separate.keys()
    for k in attrs:
        assert torch.allclose(attrs[k], separate[k], atol=1e-6)


def _random_head(cls, declip, attributes):
    """A head of a registry class with random weights (standardisation included) for declip."""
    from declip_core.iqa.heads import FeatureAttributeHead, FeatureHead

    d_in, p = declip.disentangler.cfg.image_in_dim, declip.perceptual_dim
    g = torch.Generator().manual_seed(3)
    if cls is ZeroShotHead:
        return ZeroShotHead(attributes, torch.randn(len(attributes), 2, p, generator=g), 20.0)
    head = {RegressionHead: lambda: RegressionHead(p, hidden=8), FeatureHead: lambda: FeatureHead(d_in, 8, members=2),
            FeatureAttributeHead: lambda: FeatureAttributeHead(attributes, d_in, 8)}.get(cls, lambda: cls(attributes, p, 8))()
    with torch.no_grad():
        for t in head.state_dict().values():
            t.copy_(torch.rand(t.shape, generator=g) + 0.5 if t.ndim == 1 else torch.randn(t.shape, generator=g))
    return head


@pytest.mark.parametrize("score_type", ["zeroshot", "regression", "features"])
@pytest.mark.parametrize("attr_type", ["zeroshot", "regression", "features"])
def test_head_registry_drives_save_and_load(declip, tmp_path, score_type, attr_type):
    """Every registered head type saves under its registry name and loads back as the same class and scores."""
    import declip_core.iqa as iqa
    from declip_core.iqa.heads import ATTRIBUTE_HEADS, SCORE_HEADS

    attrs = ("sharpness", "noise")
    head = _random_head(SCORE_HEADS[score_type], declip, attrs)
    attr = _random_head(ATTRIBUTE_HEADS[attr_type], declip, attrs)
    qm = QualityModel(declip, "tech", head, attr, score_type).eval()
    q2 = load_quality_head(save_quality_head(tmp_path / "h.safetensors", qm), declip)
    assert type(q2.head) is type(head) and type(q2.attribute_head) is type(attr) and q2.head_type == score_type
    x = torch.rand(2, 3, 40, 36)
    torch.testing.assert_close(q2(x), qm(x), rtol=0, atol=1e-6)  # zero-shot anchors are re-normalised on load
    torch.testing.assert_close(q2.attribute_scores(x), qm.attribute_scores(x), rtol=0, atol=1e-6)
    assert {c.__name__ for c in (*SCORE_HEADS.values(), *ATTRIBUTE_HEADS.values())} <= set(iqa.__all__)


def test_unregistered_head_is_refused(declip, tmp_path):
    qm = QualityModel(declip, "tech", torch.nn.Linear(3, 1), zero_shot_head(declip, "tech"), "linear")
    with pytest.raises(ValueError, match="not a registered head class"):
        save_quality_head(tmp_path / "h.safetensors", qm)


def test_top_level_names():
    import declip_core
    from declip_core.inference import load_declip
    from declip_core.iqa import create_quality_model
    from declip_core.scoring import score_files

    assert (declip_core.load_declip, declip_core.create_quality_model, declip_core.score_files) == (
        load_declip, create_quality_model, score_files)
