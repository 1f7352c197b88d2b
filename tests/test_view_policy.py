"""The crop policy changes continuously with image size (no switch between policies)."""
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from declip_core.backbones.base import PreprocessConfig
from declip_core.samples import sample_path
from declip_core.transforms import pil_to_tensor01
from declip_core.views import ViewPolicy, crop_boxes, crop_side, make_views, n_views

CFG = PreprocessConfig(image_size=32, resize="shortest", mean=(0.5,) * 3, std=(0.5,) * 3)


def test_crop_side_is_continuous_and_bounded():
    vp = ViewPolicy("crops", side=40, max_side=80)
    sides = [crop_side(s, s + 7, vp) for s in range(10, 200)]
    assert all(0 <= b - a <= 1 for a, b in zip(sides, sides[1:]))  # grows by at most 1 px per px
    assert crop_side(30, 50, vp) == 30 and crop_side(60, 90, vp) == 40 and crop_side(160, 200, vp) == 80
    for h, w in [(30, 50), (60, 90), (160, 200), (41, 41)]:
        for t, l, c in crop_boxes(h, w, vp):
            assert 0 <= t and t + c <= h and 0 <= l and l + c <= w
    assert n_views(10, 10, vp) == n_views(1000, 900, vp) == 5


def test_bad_layout_raises():
    with pytest.raises(ValueError):
        ViewPolicy("crops", layout="tiles")
    with pytest.raises(ValueError):
        ViewPolicy("crops", layout="grid", grid=1)


def test_centre_layout_is_one_centred_crop():
    vp = ViewPolicy("crops", side=40, max_side=80, layout="centre")
    assert crop_boxes(60, 100, vp) == [(10, 30, 40)] and n_views(60, 100, vp) == n_views(5, 5, vp) == 1
    x = torch.arange(60 * 100, dtype=torch.float32).view(1, 1, 60, 100).expand(1, 3, 60, 100) / 6000
    v = make_views(x, vp, PreprocessConfig(image_size=40, resize="shortest", mean=(0.5,) * 3, std=(0.5,) * 3))
    assert v.shape == (1, 1, 3, 40, 40) and torch.allclose(v[0, 0], x[0, :, 10:50, 30:70], atol=1e-6)
    pair = ViewPolicy("crops", side=40, max_side=80, layout="pair")
    assert crop_boxes(60, 100, pair) == [(0, 0, 40), (20, 60, 40)] and n_views(60, 100, pair) == 2


def test_policy_choice_prefers_the_cheapest_within_tolerance():
    from declip_core.training.view_choice import PolicyResult, rank_policies

    five, centre, resize = (PolicyResult(ViewPolicy("crops", layout=l), s, s, n, 0.0) for l, s, n in
                            [("five", 0.900, 5.0), ("centre", 0.897, 1.0), ("grid", 0.800, 1.0)])
    assert [r.srcc for r in rank_policies([five, centre, resize], 0.005)] == [0.897, 0.900, 0.800]
    assert [r.srcc for r in rank_policies([five, centre, resize], 0.001)] == [0.900, 0.897, 0.800]
    four = PolicyResult(ViewPolicy("crops", layout="grid", grid=2), 0.95, 0.95, 4.0, 0.0)
    assert [r.srcc for r in rank_policies([five, centre, resize, four], 0.005, max_views=2)] == [0.897, 0.800, 0.95,
                                                                                                 0.900]
    with pytest.raises(ValueError):
        rank_policies([], 0.005)
    with pytest.raises(ValueError):
        rank_policies([five], 0.005, max_views=2)


@pytest.mark.parametrize("vp", [ViewPolicy("crops", side=40, max_side=60),
                                ViewPolicy("crops", side=40, max_side=60, layout="centre"),
                                ViewPolicy("crops", side=40, max_side=60, layout="grid", grid=3)])
def test_views_change_smoothly_with_image_size(vp):
    """Resize one image through every size across `side` and `max_side`: consecutive sizes give
    nearly the same views. Per-pixel mean change between consecutive sizes is 0.01-0.05 here (content
    resampled by 1 px at 30-75 px); the old policy's switch from 1 resized view to 5 crops at 1.2 x side
    changed the views by 0.18 at that step on this image."""
    img = pil_to_tensor01(Image.open(sample_path("coffee")).convert("RGB"))[None]  # (1, 3, H, W)
    prev, steps = None, []
    for s in range(30, 75):
        x = F.interpolate(img, size=(s, round(s * 1.3)), mode="bicubic", antialias=True).clamp(0, 1)
        v = make_views(x, vp, CFG)  # (1, K, 3, 32, 32)
        if prev is not None:
            steps.append(float((v - prev).abs().mean()))
        prev = v
    assert max(steps) < 0.07, steps


@pytest.mark.slow
def test_declip_tech_has_no_cliff_across_the_old_switch():
    """The shipped declip_tech on `coffee` resized to every size 298..318 (the old 1-view/5-crops switch
    was at 307/308 px, where the score moved 0.644 -> 0.524): consecutive sizes differ by < 0.05
    (0.03 is the largest 1-px step measured over 290..330 with the continuous policy)."""
    from declip_core.iqa import create_quality_model

    qm = create_quality_model("tech").eval()
    img = Image.open(sample_path("coffee")).convert("RGB")
    w, h = img.size
    scores = []
    for s in range(298, 319):
        x = pil_to_tensor01(img.resize((round(w * s / h), s), Image.Resampling.BICUBIC))[None]
        with torch.inference_mode():
            scores.append(float(qm(x)))
    jumps = [abs(b - a) for a, b in zip(scores, scores[1:])]
    assert max(jumps) < 0.05, (max(jumps), scores)
