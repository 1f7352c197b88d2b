"""Every ComfyUI node called with ComfyUI's real data formats, with no ComfyUI installed.

IMAGE: (B, H, W, C) float 0..1. CONDITIONING: [[tensor (B, 77, 768), {"pooled_output": ..., ...}], ...].
A stand-in `folder_paths` module (ComfyUI's API, same signatures) checks model-folder registration.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from comfyui_nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS, WEB_DIRECTORY
from comfyui_nodes.apply import DPAdapterApply
from comfyui_nodes.encode import DeCLIPImageEncode, DeCLIPPhraseEncode
from comfyui_nodes.image_convert import comfy_image_to_bchw
from comfyui_nodes.loaders import NO_ADAPTER, DeCLIPLoader, DPAdapterLoader
from comfyui_nodes.model_paths import unusable_label
from comfyui_nodes.quality import (
    EMPTY,
    KEEP_BEST,
    STOP,
    DeCLIPBestOfN,
    DeCLIPQualityFilter,
    DeCLIPQualityScore,
)
from comfyui_nodes.socket_types import LINK_COLOURS
from declip_core.adapter import DPAdapter, DPAdapterConfig, load_adapter, save_adapter
from declip_core.adapter.embedding import SourcedEmbedding

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "comfyui_nodes"
TEMPLATES = PACK / "example_workflows"


@pytest.fixture(scope="module")
def lite_declip():
    from declip_core.inference import load_declip

    return load_declip("lite")


@pytest.fixture(scope="module")
def declip():
    from declip_core.testing import tiny_declip

    return tiny_declip()


def _adapter(declip, context_dim: int = 768, pooled_dim: int = 0, semantic: bool = False) -> DPAdapter:
    torch.manual_seed(0)
    a = DPAdapter(DPAdapterConfig(perceptual_dim=declip.perceptual_dim, context_dim=context_dim, num_tokens=4,
                                  pooled_dim=pooled_dim, semantic_dim=declip.semantic_dim if semantic else 0,
                                  hidden_dim=32)).eval()
    if a.pooled_head is not None:
        with torch.no_grad():
            a.pooled_head.weight.normal_()
    return a


def _cond(batch: int = 1, width: int = 768, pooled: int = 768, **extra) -> list:
    torch.manual_seed(1)
    return [[torch.randn(batch, 77, width), {"pooled_output": torch.randn(batch, pooled), **extra}]]


def _tiny():
    from declip_core.testing import tiny_declip

    return tiny_declip()


def _image(b: int = 2, h: int = 40, w: int = 48, c: int = 3) -> torch.Tensor:
    return torch.rand(b, h, w, c)  # ComfyUI IMAGE


# --- import and registration ------------------------------------------------------------------

def test_pack_imports_without_comfyui() -> None:
    code = ("import sys, comfyui_nodes as c; "
            "print(sorted(c.NODE_CLASS_MAPPINGS)); "
            "print(any(m == 'comfy' or m.startswith('comfy.') or m == 'folder_paths' for m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    names, leaked = r.stdout.strip().splitlines()
    assert leaked == "False" and "DPAdapterApply" in names


def test_mappings_are_consistent() -> None:
    assert set(NODE_CLASS_MAPPINGS) == set(NODE_DISPLAY_NAME_MAPPINGS)
    for name, cls in NODE_CLASS_MAPPINGS.items():
        spec = cls.INPUT_TYPES()
        assert "required" in spec and callable(getattr(cls(), cls.FUNCTION)), name
        assert isinstance(cls.RETURN_TYPES, tuple) and cls.CATEGORY == "DeCLIP"


class _FakeFolderPaths(types.ModuleType):
    """ComfyUI's folder_paths API surface the pack uses, over a temporary models dir."""

    def __init__(self, models_dir: Path) -> None:
        super().__init__("folder_paths")
        self.models_dir = str(models_dir)
        self.folder_names_and_paths: dict[str, tuple[list[str], set[str]]] = {}

    def add_model_folder_path(self, folder_name: str, full_folder_path: str, is_default: bool = False) -> None:
        paths, _ = self.folder_names_and_paths.setdefault(folder_name, ([], set()))
        if full_folder_path not in paths:
            paths.insert(0, full_folder_path) if is_default else paths.append(full_folder_path)

    def get_filename_list(self, folder_name: str) -> list[str]:
        out = []
        for p in self.folder_names_and_paths[folder_name][0]:
            if os.path.isdir(p):
                out += [str(f.relative_to(p)) for f in sorted(Path(p).rglob("*")) if f.is_file()]
        return sorted(out)

    def get_full_path(self, folder_name: str, filename: str) -> str | None:
        for p in self.folder_names_and_paths.get(folder_name, ([], set()))[0]:
            if os.path.isfile(os.path.join(p, filename)):
                return os.path.join(p, filename)
        return None


@pytest.fixture
def comfy_models(tmp_path, monkeypatch, declip, lite_backbone):
    """A fake ComfyUI models dir with a DeCLIP (lite backbone), two adapters and a stray file."""
    from declip_core.inference import DeCLIP
    from declip_core.model import Disentangler, DisentanglerConfig

    fake = _FakeFolderPaths(tmp_path / "models")
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    from comfyui_nodes.model_paths import register_model_folder

    folder = register_model_folder()
    assert folder == tmp_path / "models" / "declip"
    assert fake.folder_names_and_paths["declip"][0] == [str(folder)]
    folder.mkdir(parents=True)
    dcfg = DisentanglerConfig(image_in_dim=lite_backbone.info.feature_dim, text_in_dim=lite_backbone.info.text_dim,
                              perceptual_dim=16, semantic_dim=16, hidden=32, depth=1, text_hidden=32, dropout=0.0)
    DeCLIP(lite_backbone, Disentangler(dcfg)).save(folder / "declip_lite.safetensors")
    save_adapter(_adapter(declip), folder / "dp_sd15.safetensors")
    save_adapter(_adapter(declip, 2048, 1280), folder / "sub" / "dp_sdxl.safetensors")
    (folder / "notes.safetensors").write_bytes(b"not a checkpoint")
    return folder


def test_loaders_list_and_load_from_model_folder(comfy_models, caplog) -> None:
    from declip_core.pretrained import list_pretrained

    # usable files of the kind first, then files that cannot be loaded (marked, in one list only: the kind their
    # tensor names suggest, else the DeCLIP Loader's), then the bundled weight tags
    notes = unusable_label("notes.safetensors")
    assert notes == "⚠ unusable: notes.safetensors (choose it for the reason)"
    with caplog.at_level("WARNING", logger="comfyui_nodes.model_paths"):
        for _ in range(3):  # ComfyUI asks for the lists many times
            assert DeCLIPLoader.INPUT_TYPES()["required"]["declip_name"][0] == [
                "declip_lite.safetensors", notes, *list_pretrained("declip")]
            names = DPAdapterLoader.INPUT_TYPES()["required"]["adapter_name"][0]
            assert names == ["dp_sd15.safetensors", "sub/dp_sdxl.safetensors"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("models/declip/notes.safetensors cannot be loaded" in m for m in messages) == 1  # logged once
    assert not any(str(comfy_models) in m for m in messages)  # no absolute server path
    (model,) = DeCLIPLoader().load("declip_lite.safetensors")
    assert model.perceptual_dim == 16 and not model.training
    (adapter,) = DPAdapterLoader().load("sub/dp_sdxl.safetensors")
    assert adapter.config.context_dim == 2048
    with pytest.raises(ValueError, match="expected 'dp_adapter'"):
        DPAdapterLoader().load("declip_lite.safetensors")
    with pytest.raises(ValueError, match=r"cannot load models/declip/notes.safetensors: no notes.json beside it"):
        DeCLIPLoader().load(notes)


def test_empty_adapter_list_shows_a_hint(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "folder_paths", _FakeFolderPaths(tmp_path / "models"))
    from comfyui_nodes.model_paths import register_model_folder

    folder = register_model_folder()
    spec = DPAdapterLoader.INPUT_TYPES()["required"]["adapter_name"]
    assert spec[0] == [NO_ADAPTER] and "train_adapter.py" in NO_ADAPTER and "models/declip" in NO_ADAPTER
    assert "train_adapter.py" in spec[1]["tooltip"]
    folder.mkdir(parents=True)
    save_adapter(_adapter(_tiny()), folder / "x.safetensors")
    folder.joinpath("x.json").unlink()  # an adapter copied without its .json: listed (marked) after the hint
    names = DPAdapterLoader.INPUT_TYPES()["required"]["adapter_name"][0]
    assert names == [NO_ADAPTER, unusable_label("x.safetensors")]
    assert DeCLIPLoader.INPUT_TYPES()["required"]["declip_name"][0][0] == "lite"  # not in the DeCLIP list
    with pytest.raises(ValueError, match="No DP-Adapter is installed.*train_adapter.py.*models/declip"):
        DPAdapterLoader().load(NO_ADAPTER)


def test_loaders_outside_comfyui_take_paths(tmp_path, declip) -> None:
    path = save_adapter(_adapter(declip), tmp_path / "a.safetensors")
    (adapter,) = DPAdapterLoader().load(str(path))
    assert adapter.config.perceptual_dim == declip.perceptual_dim
    with pytest.raises(ValueError, match="not found"):
        DPAdapterLoader().load(str(tmp_path / "missing.safetensors"))


def test_broken_json_is_named_relative_to_the_models_folder(comfy_models) -> None:
    """A broken .json: a short marked entry (no server path, no parser text); the reason on selection, relative."""
    (comfy_models / "declip_lite.json").write_text("{ not json")
    names = DeCLIPLoader.INPUT_TYPES()["required"]["declip_name"][0]
    assert unusable_label("declip_lite.safetensors") in names
    assert not any(str(comfy_models) in n or "JSON" in n for n in names)
    assert sum("declip_lite.safetensors" in n for n in names) == 1  # listed once
    assert not any("declip_lite" in n for n in DPAdapterLoader.INPUT_TYPES()["required"]["adapter_name"][0])
    with pytest.raises(ValueError, match=r"cannot load models/declip/declip_lite.safetensors: broken declip_lite.json "
                                         r"\(models/declip/declip_lite.json: not valid JSON") as e:
        DeCLIPLoader().load(unusable_label("declip_lite.safetensors"))
    assert str(comfy_models) not in str(e.value)


def test_adapter_mismatch_names_the_declip_files(comfy_models) -> None:
    from declip_core.inference import load_declip

    mine = load_declip(str(comfy_models / "declip_lite.safetensors"))
    (adapter,) = DPAdapterLoader().load("dp_sd15.safetensors")
    adapter.declip_sha256 = mine.checkpoint_sha256
    lite = load_declip("lite")
    lite_adapter = DPAdapter(DPAdapterConfig(perceptual_dim=lite.perceptual_dim, context_dim=768, num_tokens=2,
                                             hidden_dim=8)).eval()
    lite_adapter.declip_sha256 = mine.checkpoint_sha256
    (p,) = DeCLIPPhraseEncode().encode(lite, "sharp")
    with pytest.raises(ValueError, match=r"the perceptual embedding was made by: lite; the adapter was trained on: "
                                         r"models/declip/declip_lite.safetensors\]"):
        DPAdapterApply().apply(_cond(), lite_adapter, p, 1.0)


def test_frontend_uses_public_apis_only() -> None:
    js = (PACK / WEB_DIRECTORY / "declip.js").read_text()
    imports = re.findall(r'^import .* from "(.*)";$', js, flags=re.MULTILINE)
    assert imports == ["../../scripts/app.js"]  # no widgets.js: the frontend warns about internal modules
    assert "addDOMWidget(" in js and "registerExtension(" in js


# --- images and encoders ----------------------------------------------------------------------

@pytest.mark.parametrize("c", [1, 3, 4])
def test_image_conversion(c: int) -> None:
    img = _image(2, 5, 7, c)
    x = comfy_image_to_bchw(img)
    assert x.shape == (2, 3, 5, 7) and x.dtype == torch.float32
    if c == 4:  # the one alpha rule: composited on white
        a = img[..., 3]
        torch.testing.assert_close(x[:, 0], img[..., 0] * a + (1 - a))
    else:
        torch.testing.assert_close(x[:, 0], img[..., 0])


def test_image_conversion_uint8_and_half() -> None:
    img = torch.randint(0, 256, (1, 4, 5, 3), dtype=torch.uint8)
    torch.testing.assert_close(comfy_image_to_bchw(img), img.permute(0, 3, 1, 2).float() / 255)
    h = torch.rand(1, 4, 5, 3).half()
    torch.testing.assert_close(comfy_image_to_bchw(h), h.permute(0, 3, 1, 2).float())


@pytest.mark.parametrize("bad, msg", [
    (torch.rand(2, 3, 8, 8), "C in 1, 3 or 4"),  # channels-first by mistake
    (torch.rand(8, 8, 3), "single image"),
    (torch.ones(1, 8, 8, 3, dtype=torch.int32), "unsupported dtype"),
    (torch.rand(0, 8, 8, 3), "empty"),
    ("image.png", "IMAGE tensor"),
])
def test_image_conversion_errors(bad, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        comfy_image_to_bchw(bad)


def test_image_encode(declip) -> None:
    img = _image()
    perceptual, semantic = DeCLIPImageEncode().encode(declip, img)
    assert isinstance(perceptual, SourcedEmbedding) and perceptual.declip_sha256 == declip.checkpoint_sha256
    p, s = perceptual.vectors, semantic.vectors
    assert p.shape == (2, declip.perceptual_dim) and s.shape == (2, declip.semantic_dim)
    torch.testing.assert_close(p.norm(dim=-1), torch.ones(2))
    ref = declip.embed_images(img.permute(0, 3, 1, 2))
    torch.testing.assert_close(p, ref.perceptual)
    with pytest.raises(ValueError, match="DeCLIP model"):
        DeCLIPImageEncode().encode(object(), img)


def test_phrase_encode(declip) -> None:
    (p,) = DeCLIPPhraseEncode().encode(declip, "  crisp, clean, well exposed ")
    assert p.vectors.shape == (1, declip.perceptual_dim)
    torch.testing.assert_close(p.vectors, declip.embed_perceptual_text(["crisp, clean, well exposed"]))
    with pytest.raises(ValueError, match="empty"):
        DeCLIPPhraseEncode().encode(declip, "   ")


# --- apply ------------------------------------------------------------------------------------

def test_apply_appends_scaled_tokens_and_keeps_keys(declip) -> None:
    adapter = _adapter(declip)
    (p,) = DeCLIPPhraseEncode().encode(declip, "sharp")
    marker = object()
    cond = _cond(custom=marker, area=(8, 8, 0, 0))
    original = cond[0][1].copy()
    (out,) = DPAdapterApply().apply(cond, adapter, p, 0.5)
    txt, keys = out[0]
    assert txt.shape == (1, 81, 768)
    torch.testing.assert_close(txt[:, :77], cond[0][0])
    torch.testing.assert_close(txt[:, 77:], adapter(p.vectors).tokens * 0.5)
    assert keys is not cond[0][1] and cond[0][1] == original  # input untouched
    assert keys["custom"] is marker and keys["area"] == (8, 8, 0, 0)
    assert keys["pooled_output"] is cond[0][1]["pooled_output"]  # SD1.5 adapter: pooled untouched
    assert "attention_mask" not in keys


def test_apply_strength_zero_is_identity(declip) -> None:
    cond = _cond()
    (p,) = DeCLIPPhraseEncode().encode(declip, "sharp")
    (out,) = DPAdapterApply().apply(cond, _adapter(declip), p, 0.0)
    assert out[0][0] is cond[0][0] and out[0][1] == cond[0][1]


def test_apply_grows_existing_attention_mask(declip) -> None:
    mask = torch.rand(1, 78, 78) > 0.5  # 77 text tokens + 1 reference token (ComfyUI's default layout)
    cond = _cond(attention_mask=mask)
    (p,) = DeCLIPPhraseEncode().encode(declip, "sharp")
    (out,) = DPAdapterApply().apply(cond, _adapter(declip), p, 1.0)
    new = out[0][1]["attention_mask"]
    assert new.shape == (1, 82, 82) and new.dtype == torch.float16
    old_pos = list(range(77)) + [81]
    torch.testing.assert_close(new[:, old_pos][:, :, old_pos], torch.log(mask.half()))
    assert torch.all(new[:, :, 77:81] == 0)  # the new tokens are visible to every query
    assert out[0][1]["attention_mask_img_shape"] == (1, 1)


def test_apply_batches(declip) -> None:
    adapter = _adapter(declip)
    p2, _ = DeCLIPImageEncode().encode(declip, _image(2))
    (out,) = DPAdapterApply().apply(_cond(batch=2), adapter, p2, 1.0)  # one reference per sample
    assert out[0][0].shape == (2, 81, 768)
    (out,) = DPAdapterApply().apply(_cond(batch=1), adapter, p2, 1.0)  # two references, one sample
    assert out[0][0].shape == (1, 85, 768)
    (out,) = DPAdapterApply().apply(_cond(batch=4), adapter, p2, 1.0)  # each reference for two samples
    assert out[0][0].shape == (4, 81, 768)
    torch.testing.assert_close(out[0][0][1, 77:], out[0][0][0, 77:])
    assert not torch.allclose(out[0][0][2, 77:], out[0][0][1, 77:])
    with pytest.raises(ValueError, match="cannot be matched"):
        DPAdapterApply().apply(_cond(batch=3), adapter, p2, 1.0)


def test_apply_sdxl_adds_pooled_vector(declip) -> None:
    adapter = _adapter(declip, 2048, 1280, semantic=True)
    p, s = DeCLIPImageEncode().encode(declip, _image(1))
    cond = _cond(width=2048, pooled=1280, width_px=1024)
    (out,) = DPAdapterApply().apply(cond, adapter, p, 0.7, semantic=s)
    txt, keys = out[0]
    ref = adapter(p.vectors, s.vectors).scaled(0.7)
    assert txt.shape == (1, 81, 2048) and keys["width_px"] == 1024
    torch.testing.assert_close(txt[:, 77:], ref.tokens)
    torch.testing.assert_close(keys["pooled_output"], cond[0][1]["pooled_output"] + ref.pooled)
    with pytest.raises(ValueError, match="pooled"):
        DPAdapterApply().apply([[torch.randn(1, 77, 2048), {}]], adapter, p, 1.0)


def test_apply_clear_errors(declip) -> None:
    node = DPAdapterApply()
    (p,) = DeCLIPPhraseEncode().encode(declip, "sharp")
    with pytest.raises(ValueError, match="2048 wide.*768-wide"):
        node.apply(_cond(width=2048, pooled=1280), _adapter(declip), p, 1.0)
    with pytest.raises(ValueError, match="is 5 wide but the adapter expects"):
        node.apply(_cond(), _adapter(declip), torch.randn(1, 5), 1.0)
    with pytest.raises(ValueError, match=r"\(B, L, C\)"):
        node.apply([[torch.randn(77, 768), {}]], _adapter(declip), p, 1.0)
    with pytest.raises(ValueError, match="CONDITIONING"):
        node.apply(torch.randn(1, 77, 768), _adapter(declip), p, 1.0)
    with pytest.raises(ValueError, match="DP_ADAPTER"):
        node.apply(_cond(), object(), p, 1.0)
    with pytest.raises(ValueError, match="strength"):
        node.apply(_cond(), _adapter(declip), p, -0.1)


def test_apply_ignores_semantic_for_perceptual_only_adapter(declip) -> None:
    adapter = _adapter(declip)
    p, s = DeCLIPImageEncode().encode(declip, _image(1))
    (a,) = DPAdapterApply().apply(_cond(), adapter, p, 1.0, semantic=s)
    (b,) = DPAdapterApply().apply(_cond(), adapter, p, 1.0)
    torch.testing.assert_close(a[0][0], b[0][0])


# --- DeCLIP checkpoint provenance --------------------------------------------------------------

def test_adapter_of_another_declip_is_refused(declip, tmp_path) -> None:
    adapter = _adapter(declip)
    adapter.declip_sha256 = "a" * 64
    declip.checkpoint_sha256 = "b" * 64  # embeddings made by another DeCLIP checkpoint of the same width
    try:
        (p,) = DeCLIPPhraseEncode().encode(declip, "sharp")
        pi, si = DeCLIPImageEncode().encode(declip, _image(1))
    finally:
        declip.checkpoint_sha256 = None
    assert p.declip_sha256 == "b" * 64
    with pytest.raises(ValueError, match="perceptual embedding comes from DeCLIP checkpoint bbbbbbbbbbbb.*trained on "
                                         "DeCLIP checkpoint aaaaaaaaaaaa"):
        DPAdapterApply().apply(_cond(), adapter, p, 1.0)
    semantic_adapter = _adapter(declip, semantic=True)
    semantic_adapter.declip_sha256 = "a" * 64
    with pytest.raises(ValueError, match="perceptual embedding comes from"):
        DPAdapterApply().apply(_cond(), semantic_adapter, pi, 1.0, semantic=si)
    with pytest.raises(ValueError, match="semantic embedding comes from"):
        DPAdapterApply().apply(_cond(), semantic_adapter, SourcedEmbedding(pi.vectors, "a" * 64), 1.0, semantic=si)
    # the same checkpoint, or an unknown one on either side, passes
    DPAdapterApply().apply(_cond(), adapter, SourcedEmbedding(p.vectors, "a" * 64), 1.0)
    DPAdapterApply().apply(_cond(), adapter, SourcedEmbedding(p.vectors, None), 1.0)
    adapter.declip_sha256 = None
    DPAdapterApply().apply(_cond(), adapter, p, 1.0)


def test_adapter_checkpoint_carries_the_declip_sha256(declip, tmp_path) -> None:
    adapter = _adapter(declip)
    adapter.declip_sha256 = "c" * 64
    path = save_adapter(adapter, tmp_path / "a.safetensors")
    assert json.loads(path.with_suffix(".json").read_text())["declip_sha256"] == "c" * 64
    assert load_adapter(path).declip_sha256 == "c" * 64
    assert load_adapter(save_adapter(_adapter(declip), tmp_path / "b.safetensors")).declip_sha256 is None


# --- quality, best-of-N, threshold -------------------------------------------------------------

def _graded(b: int = 4, size: int = 32) -> torch.Tensor:
    """A batch of (b, size, size, 3) images from clean to heavily noised (ComfyUI IMAGE, float 0..1)."""
    g = torch.Generator().manual_seed(0)
    base = torch.linspace(0, 1, size).view(1, size, 1, 1).expand(1, size, size, 3)
    return torch.cat([(base + n * torch.randn(1, size, size, 3, generator=g)).clamp(0, 1)
                      for n in torch.linspace(0, 0.5, b).tolist()])


def _tiny_other():
    from declip_core.testing import tiny_declip

    return tiny_declip(perceptual_dim=8, semantic_dim=8)


def _scores(declip, images, head: str = "zeroshot") -> list[float]:
    return DeCLIPQualityScore().score(images, declip, "tech", head)["ui"]["scores"]


def test_quality_node_zero_shot(declip) -> None:
    out = DeCLIPQualityScore().score(_image(2), declip, "tech", "zeroshot")
    score, summary, mask = out["result"]
    assert mask.shape == (2, 40, 48)  # no map with the zero-shot head: a uniform 1 - score
    assert isinstance(score, float) and 0.0 <= score <= 1.0
    assert summary.startswith("DeCLIP technical quality, head zeroshot\nscores 0..1, higher is better\n")
    assert "image 0: " in summary and "image 1: " in summary and "mean: " in summary
    assert out["ui"]["text"] == [summary] and len(out["ui"]["scores"]) == 2  # every image, shown on the node
    assert score == pytest.approx(sum(out["ui"]["scores"]) / 2)
    assert "⚠" not in summary  # 40x48 px: no size warning
    with pytest.raises(ValueError, match="metric"):
        DeCLIPQualityScore().score(_image(1), declip, "vibes", "zeroshot")


def test_quality_head_default_is_pyiqas(lite_declip) -> None:
    """Default head on the shipped `lite` = the shipped head = what pyiqa.create_metric('declip_tech') uses."""
    import pyiqa

    spec = DeCLIPQualityScore.INPUT_TYPES()["required"]["head"]
    assert spec[0][:2] == ["default", "zeroshot"] and spec[1]["default"] == "default"
    img = _graded(2)
    out = DeCLIPQualityScore().score(img, lite_declip, "tech", "default")
    from declip_core.checkpoint import read_config
    from declip_core.pretrained import resolve_checkpoint

    shipped = read_config(resolve_checkpoint("lite-tech", kind="iqa_head"))["head_type"]
    assert f"head lite-tech ({shipped})" in out["result"][1] and "note:" not in out["result"][1]
    expected = pyiqa.create_metric("declip_tech", device="cpu")(img.permute(0, 3, 1, 2)).reshape(-1)
    torch.testing.assert_close(torch.tensor(out["ui"]["scores"]), expected, atol=1e-5, rtol=0)


def test_default_head_never_fails_on_another_declip(lite_declip) -> None:
    """Own DeCLIP checkpoint: `default` falls back to the zero-shot head with a note; an explicit head raises."""
    other = _tiny_other()
    img = _graded(2)
    out = DeCLIPQualityScore().score(img, other, "tech", "default")
    summary = out["result"][1]
    assert "head zeroshot" in summary and "note: default head: zeroshot, because the shipped head lite-tech does " \
                                          "not fit" in summary
    assert out["ui"]["scores"] == pytest.approx(_scores(other, img, "zeroshot"))  # the zero-shot head's numbers
    with pytest.raises(ValueError, match="quality head 'lite-tech' does not fit.*choose head 'default'"):
        DeCLIPQualityScore().score(img, other, "tech", "lite-tech")
    assert "note:" not in DeCLIPQualityScore().score(img, lite_declip, "aes", "default")["result"][1]


def test_default_head_prefers_a_head_trained_for_the_declip(comfy_models) -> None:
    """A head in models/declip/ trained on the loaded DeCLIP is what `default` picks (named relative to the folder)."""
    from declip_core.inference import load_declip
    from declip_core.iqa import create_quality_model, save_quality_head

    declip = load_declip(str(comfy_models / "declip_lite.safetensors"))
    head = create_quality_model("tech", head="zeroshot", declip=declip)
    save_quality_head(comfy_models / "heads" / "mine.safetensors", head)
    assert "heads/mine.safetensors" in DeCLIPQualityScore.INPUT_TYPES()["required"]["head"][0]
    summary = DeCLIPQualityScore().score(_graded(1), declip, "tech", "default")["result"][1]
    assert "head heads/mine.safetensors (zeroshot)" in summary
    assert "note: default head: heads/mine.safetensors (trained for DeCLIP models/declip/declip_lite.safetensors)" \
        in summary
    assert str(comfy_models) not in summary
    # validation before a run: a head of another metric, an unusable entry
    assert DeCLIPQualityScore.VALIDATE_INPUTS("tech", "heads/mine.safetensors") is True
    msg = DeCLIPQualityScore.VALIDATE_INPUTS("aes", "heads/mine.safetensors")
    assert "scores 'tech', but metric 'aes'" in msg and str(comfy_models) not in msg
    assert "not installed" in DeCLIPQualityScore.VALIDATE_INPUTS("tech", "gone.safetensors")
    assert DeCLIPBestOfN.VALIDATE_INPUTS(["tech"], ["default"]) is True
    assert DeCLIPQualityFilter.VALIDATE_INPUTS(["tech"], ["zeroshot"], [EMPTY]) is True  # older workflows load
    with pytest.raises(ValueError, match="does not fit DeCLIP lite") as e:  # explicit: raises, names no server path
        DeCLIPQualityScore().score(_graded(1), load_declip("lite"), "tech", "heads/mine.safetensors")
    assert str(comfy_models) not in str(e.value)


def test_quality_model_is_cached_per_declip_metric_head(declip) -> None:
    node = DeCLIPQualityScore()
    img = _image(1)
    first = node.score(img, declip, "tech", "zeroshot")["ui"]["scores"]
    assert node.score(img, declip, "tech", "zeroshot")["ui"]["scores"] == first
    assert node._cache().builds == 1  # the text tower ran once
    node.score(img, declip, "aes", "zeroshot")
    node.score(img, _tiny_other(), "aes", "zeroshot")
    assert node._cache().builds == 3  # another metric, another DeCLIP: rebuilt
    best = DeCLIPBestOfN()
    for _ in range(2):
        best.select([img], [declip], ["tech"], ["zeroshot"], [1])
    assert best._cache().builds == 1


def test_best_of_n_keeps_the_top_k_and_lists_every_score(declip) -> None:
    images = _graded(4)
    all_scores = torch.tensor(_scores(declip, images))
    out = DeCLIPBestOfN().select(images, declip, "tech", "zeroshot", 2)
    (picked,), scores, indices, summary = out["result"]
    order = torch.argsort(all_scores, descending=True)[:2].tolist()
    assert indices == order and scores == pytest.approx(all_scores[order].tolist())
    assert picked.shape == (2, 32, 32, 3) and picked.dtype == images.dtype
    torch.testing.assert_close(picked, images[order])  # the images themselves, untouched
    assert "best 2 of 4 kept" in summary and out["ui"]["text"] == [summary]
    for i in range(4):  # rejected images' scores too, the kept ones marked
        mark = "✓ " if i in order else "  "
        assert f"{mark}image {i}: {all_scores[i]:.3f}" in summary
    (everything,), s_all, i_all, _ = DeCLIPBestOfN().select(images, declip, "tech", "zeroshot", 9)["result"]
    assert everything.shape[0] == 4 and sorted(i_all) == [0, 1, 2, 3] and s_all == sorted(s_all, reverse=True)
    with pytest.raises(ValueError, match="k must be"):
        DeCLIPBestOfN().select(images, declip, "tech", "zeroshot", 0)
    assert DeCLIPBestOfN.INPUT_IS_LIST and DeCLIPBestOfN.OUTPUT_IS_LIST == (True, False, False, False)
    assert DeCLIPBestOfN.RETURN_TYPES == ("IMAGE", "DECLIP_SCORES", "DECLIP_INDICES", "STRING")


def test_best_of_n_over_a_list_of_three_sizes(declip) -> None:
    """ComfyUI's list input (Load Image Dataset from Folder: one (1, H, W, 3) per file) selects over all images."""
    a, b, c = _graded(1, 24), _graded(2, 32)[1:], _graded(3, 40)[2:]  # three sizes, one image each
    batch = _graded(2, 32)  # a batch in the same list, too
    listed = [a, b, c, batch]
    flat = [a[0], b[0], c[0], batch[0], batch[1]]
    expected = [_scores(declip, x[None])[0] for x in flat]
    node = DeCLIPBestOfN()
    picked, scores, indices, summary = node.select(listed, [declip], ["tech"], ["zeroshot"], [3])["result"]
    order = sorted(range(5), key=lambda i: -expected[i])[:3]
    assert indices == order and scores == pytest.approx([expected[i] for i in order], abs=1e-6)
    assert "best 3 of 5" in summary and "(24x24)" in summary and "(40x40)" in summary  # not one call per image
    if len({flat[i].shape for i in order}) > 1:  # mixed sizes: one list item per kept image, best first
        assert [p.shape for p in picked] == [(1, *flat[i].shape) for i in order]
        for p, i in zip(picked, order):
            torch.testing.assert_close(p[0], flat[i])
    (one,), _, i1, _ = node.select([c, a, b], [declip], ["tech"], ["zeroshot"], [1])["result"]
    assert one.shape[0] == 1 and i1 == [max(range(3), key=lambda i: [expected[2], expected[0], expected[1]][i])]
    # every image of the list is considered: the worst is never kept with k = 4 of 5
    worst = min(range(5), key=expected.__getitem__)
    assert worst not in node.select(listed, [declip], ["tech"], ["zeroshot"], [4])["result"][2]


def test_quality_filter_by_threshold(declip) -> None:
    images = _graded(4)
    all_scores = _scores(declip, images)
    cut = sorted(all_scores)[1]  # the 2nd lowest: three images pass
    (picked,), scores, indices, summary = DeCLIPQualityFilter().select(images, declip, "tech", "zeroshot", cut)["result"]
    assert indices == [i for i, s in enumerate(all_scores) if s >= cut] and len(indices) == 3
    assert scores == pytest.approx([all_scores[i] for i in indices])
    torch.testing.assert_close(picked, images[indices])
    rejected = min(range(4), key=all_scores.__getitem__)
    assert f"  image {rejected}: {all_scores[rejected]:.3f}" in summary  # the rejected one's score is shown
    best = max(range(4), key=all_scores.__getitem__)
    above_all = max(all_scores) + 1e-3  # no image reaches it
    kept = DeCLIPQualityFilter().select(images, declip, "tech", "zeroshot", above_all, KEEP_BEST)["result"]
    assert kept[2] == [best] and kept[0][0].shape == (1, 32, 32, 3) and "kept the best one" in kept[3]
    assert DeCLIPQualityFilter.INPUT_TYPES()["required"]["if_none_pass"][0] == [KEEP_BEST, STOP]
    with pytest.raises(ValueError, match="if_none_pass"):
        DeCLIPQualityFilter().select(images, declip, "tech", "zeroshot", 0.5, "shrug")


class _Blocker:
    def __init__(self, message) -> None:
        self.message = message


@pytest.mark.parametrize("choice", [STOP, EMPTY])
def test_quality_filter_never_hands_on_an_empty_batch(declip, monkeypatch, choice: str) -> None:
    """Nothing passes and if_none_pass = stop: inside ComfyUI the outputs block the nodes after it (never a
    0-image batch); outside ComfyUI the same text is raised. The older 'return an empty batch' means stop."""
    images = _graded(3)
    top = max(_scores(declip, images))
    with pytest.raises(ValueError, match=r"none of 3 at or above 0\.99(.|\n)*Fix: lower the threshold, or set "
                                         r"if_none_pass"):
        DeCLIPQualityFilter().select(images, declip, "tech", "zeroshot", 0.99, choice)
    fake = types.ModuleType("comfy_execution.graph_utils")
    fake.ExecutionBlocker = _Blocker
    monkeypatch.setitem(sys.modules, "comfy_execution", types.ModuleType("comfy_execution"))
    monkeypatch.setitem(sys.modules, "comfy_execution.graph_utils", fake)
    out = DeCLIPQualityFilter().select([images], [declip], ["tech"], ["zeroshot"], [0.99], [choice])
    picked, scores, indices, summary = out["result"]
    assert all(isinstance(x, _Blocker) and x.message is None for x in (picked, scores, indices))
    assert f"STOPPED: none of 3 at or above 0.99 (best: {top:.3f})" in summary and out["ui"]["text"] == [summary]


def test_empty_batches_say_why_and_how_to_fix(declip) -> None:
    empty = torch.rand(0, 384, 384, 3)  # what a filter returning nothing would hand on
    fix = "passed on no images.*Lower that filter's threshold or set its if_none_pass to 'keep the best one'"
    with pytest.raises(ValueError, match=r"empty IMAGE batch \(0, 384, 384, 3\): the node before it " + fix):
        DeCLIPQualityScore().score(empty, declip, "tech", "zeroshot")
    with pytest.raises(ValueError, match=r"no images to choose from .*" + fix):
        DeCLIPBestOfN().select([empty, empty[:, :8]], [declip], ["tech"], ["zeroshot"], [1])
    with pytest.raises(ValueError, match="no images to choose from"):
        DeCLIPQualityFilter().select([], [declip], ["tech"], ["zeroshot"], [0.5], [KEEP_BEST])
    with pytest.raises(ValueError, match="empty IMAGE batch"):
        DeCLIPImageEncode().encode(declip, empty)
    # an empty item among others adds nothing
    (one,), _, indices, _ = DeCLIPBestOfN().select([empty, _image(1)], [declip], ["tech"], ["zeroshot"], [1])["result"]
    assert one.shape == (1, 40, 48, 3) and indices == [0]


@pytest.mark.parametrize("side", [1, 2])
def test_tiny_images_get_a_warning(declip, side: int) -> None:
    summary = DeCLIPQualityScore().score(torch.rand(1, side, side, 3), declip, "tech", "zeroshot")["result"][1]
    assert f"⚠ only {side}x{side} px: too small to judge" in summary
    best = DeCLIPBestOfN().select([torch.rand(1, side, side, 3), _image(1)], [declip], ["tech"], ["zeroshot"],
                                  [1])["result"][3]
    assert best.count("⚠") == 1


def test_readme_example_is_what_the_node_shows(lite_declip) -> None:
    """The score text quoted in comfyui_nodes/README.md is the node's text for the sample photo (run here)."""

    readme = (PACK / "README.md").read_text()
    block = re.search(r"<!-- example: (\S+) -->\n```\n(.*?)\n```", readme, flags=re.DOTALL)
    assert block, "README: the example block is missing"
    with Image.open(REPO / block.group(1)) as im:  # as ComfyUI's Load Image gives it: RGB, float 0..1
        image = torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0)[None]
    summary = DeCLIPQualityScore().score(image, lite_declip, "tech", "default")["result"][1]
    assert block.group(2) == summary
    import pyiqa

    pyiqa_score = float(pyiqa.create_metric("declip_tech", device="cpu")(image.permute(0, 3, 1, 2)))
    assert f"pyiqa's `declip_tech` gives {pyiqa_score:.4f}" in readme


# --- conventions: tooltips, names, colours ------------------------------------------------------

@pytest.mark.parametrize("name", sorted(NODE_CLASS_MAPPINGS))
def test_every_input_and_output_has_a_tooltip(name: str) -> None:
    cls = NODE_CLASS_MAPPINGS[name]
    spec = cls.INPUT_TYPES()
    for input_name, s in {**spec["required"], **spec.get("optional", {})}.items():
        assert len(s) > 1 and len(s[1].get("tooltip", "")) > 20, f"{name}.{input_name}"
    assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES) and all(len(t) > 15 for t in cls.OUTPUT_TOOLTIPS)
    assert "DeCLIP" in NODE_DISPLAY_NAME_MAPPINGS[name] and cls.DESCRIPTION


def test_frontend_extension_is_served_and_matches_python() -> None:
    js = (PACK / WEB_DIRECTORY / "declip.js").read_text()
    table = dict(re.findall(r'^\s+(\w+): "(#[0-9A-Fa-f]{6})",$', js, flags=re.MULTILINE))
    assert table == LINK_COLOURS  # the link colours the editor uses are the socket types of socket_types.py
    for node in ("DeCLIPQualityScore", "DeCLIPBestOfN", "DeCLIPQualityFilter"):
        assert f'"{node}"' in js and NODE_CLASS_MAPPINGS[node].OUTPUT_NODE


# --- templates ----------------------------------------------------------------------------------

CORE_NODES = {"CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage",
              "PreviewImage", "LoadImage", "ThresholdMask", "VAEEncodeForInpaint"}
VIRTUAL = {"Note", "MarkdownNote"}
TITLE_BAR = 30  # litegraph draws the title above a node's pos


def test_template_folder_holds_only_ui_workflows_with_thumbnails() -> None:
    files = sorted(p.name for p in TEMPLATES.iterdir())
    stems = {p.stem for p in TEMPLATES.glob("*.json")}
    assert len(stems) == 5 and files == sorted([f"{s}.json" for s in stems] + [f"{s}.jpg" for s in stems])
    assert all(s.startswith("DeCLIP - ") for s in stems)
    assert not (PACK / "workflows").exists()  # the old folder ComfyUI also scans
    for s in stems:
        with Image.open(TEMPLATES / f"{s}.jpg") as im:
            assert im.format == "JPEG" and im.width >= 256


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.json")), ids=lambda p: p.stem)
def test_templates_are_well_formed_ui_workflows(path: Path) -> None:
    ui = json.loads(path.read_text())
    assert ui["version"] == 0.4 and isinstance(ui["nodes"], list)  # UI (litegraph) format, not API format
    nodes = {n["id"]: n for n in ui["nodes"]}
    assert ui["last_node_id"] == max(nodes) and ui["last_link_id"] == max(link[0] for link in ui["links"])
    for node in nodes.values():
        assert node["type"] in NODE_CLASS_MAPPINGS or node["type"] in CORE_NODES or node["type"] in VIRTUAL
    for link_id, src, src_slot, dst, dst_slot, typ in ui["links"]:
        assert nodes[src]["outputs"][src_slot]["type"] == typ and link_id in nodes[src]["outputs"][src_slot]["links"]
        assert nodes[dst]["inputs"][dst_slot]["link"] == link_id
    boxes = [(n["pos"][0], n["pos"][1] - TITLE_BAR, n["size"][0], n["size"][1] + TITLE_BAR) for n in nodes.values()]
    for i, (ax, ay, aw, ah) in enumerate(boxes):  # laid out without overlaps (the browser test checks real bounds)
        for bx, by, bw, bh in boxes[i + 1:]:
            assert not (ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah), path.stem
    declip = [n for n in nodes.values() if n["type"] == "DeCLIPLoader"]
    assert declip and all(n["widgets_values"] == ["lite"] for n in declip)  # the shipped model
    if any(n["type"] == "DPAdapterLoader" for n in nodes.values()):  # says plainly it needs a trained adapter
        assert "DP-Adapter" in path.stem
        notes = " ".join(n["widgets_values"][0] for n in nodes.values() if n["type"] in VIRTUAL)
        assert "Needs a DP-Adapter trained for YOUR diffusion model" in notes and "train_adapter.py" in notes


@pytest.mark.parametrize("path", sorted((REPO / "tests" / "fixtures" / "comfy_workflows").glob("*_api.json")),
                         ids=lambda p: p.name)
def test_api_fixtures_are_well_formed(path: Path) -> None:
    graph = json.loads(path.read_text())
    for node_id, node in graph.items():
        ct = node["class_type"]
        assert ct in NODE_CLASS_MAPPINGS or ct in CORE_NODES, ct
        for value in node["inputs"].values():
            if isinstance(value, list):
                assert value[0] in graph, f"{path.name}: node {node_id} links to missing {value[0]}"
        if ct in NODE_CLASS_MAPPINGS:
            spec = NODE_CLASS_MAPPINGS[ct].INPUT_TYPES()
            assert set(spec["required"]) <= set(node["inputs"]) <= set(spec["required"]) | set(spec.get("optional", {}))


def test_validation_leaves_linked_inputs_to_the_run() -> None:
    """ComfyUI validates before a run: a linked metric/head is unknown then (not passed) and must not fail."""
    assert DeCLIPQualityScore.VALIDATE_INPUTS() is True
    assert DeCLIPQualityFilter.VALIDATE_INPUTS(metric=["tech"]) is True
    assert "metric must be one of" in DeCLIPQualityScore.VALIDATE_INPUTS("vibes", "default")
    assert "if_none_pass must be" in DeCLIPQualityFilter.VALIDATE_INPUTS(["tech"], ["default"], ["shrug"])


def test_quality_score_gives_a_mask_of_the_bad_region(lite_declip) -> None:
    """The Quality Score node's quality_mask (ComfyUI MASK (B, H, W), 1 = bad) is where a region was blurred:
    the shipped fragment head's map; a head without a map gives a uniform 1 - score."""
    from declip_core.samples import sample_path
    from declip_core.training.data.distortions import apply_distortion

    with Image.open(sample_path("astronaut")) as im:
        rgb = np.asarray(im.convert("RGB").resize((256, 256)))
    bad = rgb.copy()
    bad[:, :128] = apply_distortion(rgb, "gaussian_blur", 5)[:, :128]  # the left half blurred
    img = torch.from_numpy(np.stack([rgb, bad])).float() / 255.0  # ComfyUI IMAGE (2, 256, 256, 3)
    out = DeCLIPQualityScore().score(img, lite_declip, "tech", "default")
    mask = out["result"][2]
    assert DeCLIPQualityScore.RETURN_TYPES[2] == "MASK" and mask.shape == (2, 256, 256)
    assert bool(((mask >= 0) & (mask <= 1)).all())
    grew = mask[1] - mask[0]  # what the blur added, left half against right half
    assert float(grew[:, :128].mean()) > float(grew[:, 128:].mean()) + 0.05
    flat = DeCLIPQualityScore().score(img, lite_declip, "aes", "default")
    s = torch.tensor(flat["ui"]["scores"])
    torch.testing.assert_close(flat["result"][2], (1 - s)[:, None, None].expand(-1, 256, 256))


def test_best_of_n_on_aes_keeps_the_clean_image(lite_declip) -> None:
    """Best of N on `aes` (the shipped aesthetic head) keeps the clean photo over its damaged copies (noise,
    JPEG, blur, darkening), in ComfyUI's IMAGE format."""
    from declip_core.samples import sample_path
    from declip_core.training.data.distortions import apply_distortion

    with Image.open(sample_path("chelsea")) as im:
        rgb = np.asarray(im.convert("RGB").resize((384, 384)))
    copies = [apply_distortion(rgb, t, 4) for t in ("white_noise", "jpeg", "gaussian_blur", "darken")]
    img = torch.from_numpy(np.stack([copies[0], copies[1], rgb, copies[2], copies[3]])).float() / 255.0
    out = DeCLIPBestOfN().select(img, lite_declip, "aes", "default", 1)
    assert out["result"][2] == [2], out["result"][3]
