import torch
from PIL import Image

from declip_core.backbones import parse_spec
from declip_core.backbones.efficientnet_lite import EfficientNetLite0, SameConv2d
from declip_core.backbones.lite import LITE0_SHA256, lite0_weight_path
from declip_core.samples import sample_path
import pytest


def _top1(bb, name):
    x = bb.preprocess(Image.open(sample_path(name))).unsqueeze(0)
    with torch.no_grad():
        return int(bb.encode_image(x).logits.argmax(1))


def test_lite_classifies_reference_photos(lite_backbone):
    assert 281 <= _top1(lite_backbone, "chelsea") <= 285  # a cat
    assert _top1(lite_backbone, "coffee") == 967  # espresso


def test_lite_metadata_and_shapes(lite_backbone):
    info = lite_backbone.info
    assert info.kind == "lite" and not info.aligned
    assert info.sha256 == LITE0_SHA256
    assert (info.image_dim, info.stats_dim, info.text_dim) == (1280, 544, 384)
    x = torch.rand(2, 3, 224, 224)
    f = lite_backbone.encode_image(x, with_levels=True)
    assert f.pooled.shape == (2, 1280) and f.stats.shape == (2, 544)
    assert f.vector().shape == (2, info.feature_dim)
    assert [m.shape[1] for m in f.levels] == [16, 24, 40, 80, 112]


def test_lite_weights_match_strictly():
    sd = torch.load(lite0_weight_path(), map_location="cpu", weights_only=True)
    missing, unexpected = EfficientNetLite0().load_state_dict(sd, strict=False)
    assert not missing and not unexpected


def test_minilm_paraphrase_closer_than_content(lite_backbone):
    e = lite_backbone.encode_text(["a blurry photo", "an out-of-focus picture", "a sharp photo of a cat"])
    assert torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-4)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])


def test_tensor_path_matches_pil_path(lite_backbone):
    img = Image.open(sample_path("chelsea")).convert("RGB")
    from declip_core.transforms import pil_to_tensor01

    a = lite_backbone.preprocess(img)
    b = lite_backbone.normalize(pil_to_tensor01(img).unsqueeze(0))[0]
    assert a.shape == b.shape == (3, 224, 224)
    # PIL and torch bicubic antialiasing differ slightly; the features must agree closely.
    with torch.no_grad():
        fa = lite_backbone.encode_image(a[None]).pooled
        fb = lite_backbone.encode_image(b[None]).pooled
    assert torch.nn.functional.cosine_similarity(fa, fb).item() > 0.98


def test_same_padding_matches_tf_rule():
    conv = SameConv2d(1, 1, 5, stride=2, bias=False)
    for size in (7, 8, 9, 224):
        y = conv(torch.zeros(1, 1, size, size))
        assert y.shape[-1] == -(-size // 2)


@pytest.mark.parametrize("spec", ["", "clip", "openclip:", "openclip:ViT-B-32", "openclip:/x", "openclip:@x"])
def test_bad_specs_raise(spec):
    with pytest.raises(ValueError):
        parse_spec(spec)


def test_spec_forms():
    assert parse_spec("openclip:ViT-B-32/openai").tag == "openai"
    p = parse_spec("openclip:ViT-B-32@/w/file.safetensors")
    assert (p.arch, p.path) == ("ViT-B-32", "/w/file.safetensors")
