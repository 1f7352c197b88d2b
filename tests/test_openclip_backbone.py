"""The open_clip path with a tiny randomly initialised config; nothing is downloaded."""
import json

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from declip_core.backbones import create_backbone
from declip_core.samples import sample_path

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
ARCH = "declip-test-tiny"


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    import open_clip

    d = tmp_path_factory.mktemp("oc")
    cfg = d / f"{ARCH}.json"
    cfg.write_text(json.dumps(TINY))
    open_clip.add_model_config(cfg)  # open_clip's own registry: the documented way to add an architecture
    torch.manual_seed(0)
    model = open_clip.create_model(ARCH, pretrained=None)
    f = d / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(f))
    model.eval()
    return model, f


def test_file_spec_gives_identical_outputs(tiny_weights):
    ref, f = tiny_weights
    bb = create_backbone(f"openclip:{ARCH}@{f}")
    assert bb.info.kind == "openclip" and bb.info.aligned and bb.info.sha256 and bb.info.weight_source == str(f)
    x = bb.preprocess(Image.open(sample_path("chelsea"))).unsqueeze(0)
    assert x.shape == (1, 3, 32, 32)
    with torch.no_grad():
        feats = bb.encode_image(x)
        assert torch.equal(feats.pooled, ref.encode_image(x))
        t = bb.encode_text(["a blurry photo", "a sharp photo"])
        r = torch.nn.functional.normalize(ref.encode_text(bb.tokenizer(["a blurry photo", "a sharp photo"])), dim=-1)
    assert torch.allclose(t, r)
    assert feats.stats.shape == (1, bb.info.stats_dim) and bb.info.stats_dim > 0


def test_dir_spec_finds_weight_file(tiny_weights, tmp_path):
    ref, f = tiny_weights
    (tmp_path / "open_clip_model.safetensors").write_bytes(f.read_bytes())
    bb = create_backbone(f"openclip:{ARCH}@{tmp_path}")
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(bb.encode_image(x).pooled, ref.encode_image(x))


def test_hf_cache_layout_is_found_offline(tiny_weights, tmp_path, monkeypatch):
    """A weight file placed where the HF cache keeps it is found through the tag spec."""
    import open_clip

    ref, f = tiny_weights
    repo = open_clip.get_pretrained_cfg("ViT-B-32", "openai")["hf_hub"].strip("/")
    snap = tmp_path / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "open_clip_model.safetensors").write_bytes(b"x")
    (tmp_path / "hub" / f"models--{repo.replace('/', '--')}" / "refs").mkdir()
    (tmp_path / "hub" / f"models--{repo.replace('/', '--')}" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    from declip_core.backbones.openclip import find_in_hf_cache

    assert find_in_hf_cache("ViT-B-32", "openai") == snap / "open_clip_model.safetensors"


def test_missing_weights_name_file_and_place(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    with pytest.raises(ValueError) as e:
        create_backbone("openclip:ViT-B-32/openai", allow_download=True)
    msg = str(e.value)
    assert "open_clip_model.safetensors" in msg and str(tmp_path / "hub") in msg and "timm/" in msg


def test_missing_local_file_is_clear(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        create_backbone(f"openclip:ViT-B-32@{tmp_path / 'nope.safetensors'}")
    with pytest.raises(ValueError, match="holds no open_clip weights"):
        create_backbone(f"openclip:ViT-B-32@{tmp_path}")


def test_no_download_without_opt_in(tmp_path, monkeypatch):
    """Even with HF_HUB_OFFLINE unset, nothing is fetched unless allow_download=True."""
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    import open_clip.pretrained as ocp

    def boom(*a, **k):
        raise AssertionError("network touched")

    monkeypatch.setattr(ocp, "download_pretrained", boom)
    monkeypatch.setattr(ocp, "download_pretrained_from_hf", boom)
    with pytest.raises(ValueError, match="not on this machine"):
        create_backbone("openclip:ViT-B-32/openai")
