import json

import pytest
import torch

from declip_core.checkpoint import load_checkpoint, read_config, save_checkpoint
from declip_core.inference import declip_from_checkpoint
from declip_core.testing import TinyBackbone, tiny_declip


def test_round_trip_identical_outputs(tmp_path):
    m = tiny_declip(seed=3)
    with torch.no_grad():
        m.disentangler.logit_scale_p.add_(0.5)
    path = m.save(tmp_path / "m.safetensors")
    cfg = read_config(path)
    assert cfg["kind"] == "declip" and cfg["format_version"] == 1 and len(cfg["sha256"]) == 64
    assert cfg["backbone"]["preprocess"]["image_size"] == 32
    m2 = declip_from_checkpoint(path, backbone=TinyBackbone(seed=3))
    x = torch.rand(3, 3, 40, 36)
    with torch.no_grad():
        a, b = m.embed_images(x), m2.embed_images(x)
    assert torch.equal(a.perceptual, b.perceptual) and torch.equal(a.semantic, b.semantic)
    assert torch.equal(m.embed_perceptual_text(["noisy"]), m2.embed_perceptual_text(["noisy"]))


def test_checksum_mismatch_rejected(tmp_path):
    p = save_checkpoint(tmp_path / "c.safetensors", {"w": torch.ones(4)}, {"kind": "test"})
    t, _ = load_checkpoint(p)
    assert torch.equal(t["w"], torch.ones(4))
    save_checkpoint(tmp_path / "other.safetensors", {"w": torch.zeros(4)}, {"kind": "test"})
    p.write_bytes((tmp_path / "other.safetensors").read_bytes())
    with pytest.raises(ValueError, match="sha256"):
        load_checkpoint(p)


def test_expected_kind_checked(tmp_path):
    p = save_checkpoint(tmp_path / "c.safetensors", {"w": torch.ones(2)}, {"kind": "iqa_head"})
    t, cfg = load_checkpoint(p, kind="iqa_head")
    assert cfg["kind"] == "iqa_head" and torch.equal(t["w"], torch.ones(2))
    with pytest.raises(ValueError, match=r"c\.safetensors: checkpoint kind is 'iqa_head', expected 'declip'"):
        load_checkpoint(p, kind="declip")
    with pytest.raises(ValueError, match="expected 'dp_adapter'"):
        read_config(p, kind="dp_adapter")
    with pytest.raises(ValueError, match="expected 'declip'"):
        declip_from_checkpoint(p, backbone=TinyBackbone())


def test_missing_kind_and_bad_config(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        save_checkpoint(tmp_path / "x", {"w": torch.ones(1)}, {})
    (tmp_path / "y.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a DeCLIP"):
        read_config(tmp_path / "y.json")
    with pytest.raises(ValueError, match="not found"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_wrong_backbone_rejected(tmp_path):
    m = tiny_declip()
    path = m.save(tmp_path / "m.safetensors")
    cfg = json.loads(path.with_suffix(".json").read_text())
    assert cfg["tensors_file"] == "m.safetensors"
    bb = TinyBackbone()
    object.__setattr__(bb, "info", bb.info.__class__(**{**bb.info.__dict__, "sha256": "0" * 64}))
    cfg["backbone"]["sha256"] = "f" * 64
    path.with_suffix(".json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="backbone weights"):
        declip_from_checkpoint(path, backbone=bb)
