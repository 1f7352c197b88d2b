"""Every ComfyUI node called with ComfyUI's real data formats, with no ComfyUI installed.

IMAGE: (B, H, W, C) float 0..1. CONDITIONING: [[tensor (B, 77, 768), {"pooled_output": ..., ...}], ...].
A stand-in `folder_paths` module (ComfyUI's API, same signatures) checks model-folder registration.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from comfyui_nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from comfyui_nodes.apply import DPAdapterApply
from comfyui_nodes.encode import DeCLIPImageEncode, DeCLIPPhraseEncode
from comfyui_nodes.image_convert import comfy_image_to_bchw
from comfyui_nodes.loaders import DeCLIPLoader, DPAdapterLoader
from comfyui_nodes.quality import DeCLIPQualityScore
from declip_core.adapter import DPAdapter, DPAdapterConfig, save_adapter

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / "comfyui_nodes" / "workflows"


@pytest.fixture(scope="module")
def declip():
    from declip_core.training.testing import tiny_declip

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


def test_loaders_list_and_load_from_model_folder(comfy_models) -> None:
    from declip_core.pretrained import list_pretrained

    # files in models/declip/ first, then the weight tags bundled with the package
    assert DeCLIPLoader.INPUT_TYPES()["required"]["declip_name"][0] == ["declip_lite.safetensors",
                                                                         *list_pretrained("declip")]
    names = DPAdapterLoader.INPUT_TYPES()["required"]["adapter_name"][0]
    assert names == ["dp_sd15.safetensors", "sub/dp_sdxl.safetensors"]
    (model,) = DeCLIPLoader().load("declip_lite.safetensors")
    assert model.perceptual_dim == 16 and not model.training
    (adapter,) = DPAdapterLoader().load("sub/dp_sdxl.safetensors")
    assert adapter.config.context_dim == 2048
    with pytest.raises(ValueError, match="expected 'dp_adapter'"):
        DPAdapterLoader().load("declip_lite.safetensors")


def test_loaders_outside_comfyui_take_paths(tmp_path, declip) -> None:
    path = save_adapter(_adapter(declip), tmp_path / "a.safetensors")
    (adapter,) = DPAdapterLoader().load(str(path))
    assert adapter.config.perceptual_dim == declip.perceptual_dim
    with pytest.raises(ValueError, match="not found"):
        DPAdapterLoader().load(str(tmp_path / "missing.safetensors"))


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
    assert perceptual.shape == (2, declip.perceptual_dim) and semantic.shape == (2, declip.semantic_dim)
    torch.testing.assert_close(perceptual.norm(dim=-1), torch.ones(2))
    ref = declip.embed_images(img.permute(0, 3, 1, 2))
    torch.testing.assert_close(perceptual, ref.perceptual)
    with pytest.raises(ValueError, match="DeCLIP model"):
        DeCLIPImageEncode().encode(object(), img)


def test_phrase_encode(declip) -> None:
    (p,) = DeCLIPPhraseEncode().encode(declip, "  crisp, clean, well exposed ")
    assert p.shape == (1, declip.perceptual_dim)
    torch.testing.assert_close(p, declip.embed_perceptual_text(["crisp, clean, well exposed"]))
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
    torch.testing.assert_close(txt[:, 77:], adapter(p).tokens * 0.5)
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
    with pytest.raises(ValueError, match="cannot be matched"):
        DPAdapterApply().apply(_cond(batch=3), adapter, p2, 1.0)


def test_apply_sdxl_adds_pooled_vector(declip) -> None:
    adapter = _adapter(declip, 2048, 1280, semantic=True)
    p, s = DeCLIPImageEncode().encode(declip, _image(1))
    cond = _cond(width=2048, pooled=1280, width_px=1024)
    (out,) = DPAdapterApply().apply(cond, adapter, p, 0.7, semantic=s)
    txt, keys = out[0]
    ref = adapter(p, s).scaled(0.7)
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


# --- quality ----------------------------------------------------------------------------------

def test_quality_node_zero_shot(declip) -> None:
    out = DeCLIPQualityScore().score(_image(2), declip, "tech", "zeroshot")
    score, summary = out["result"]
    assert isinstance(score, float) and 0.0 <= score <= 1.0
    assert summary.count("technical quality") == 3 and "higher is better" in summary  # 2 images + mean
    assert out["ui"]["text"] == [summary]
    with pytest.raises(ValueError, match="metric"):
        DeCLIPQualityScore().score(_image(1), declip, "vibes", "zeroshot")


def test_quality_head_choices_offer_zero_shot() -> None:
    assert DeCLIPQualityScore.INPUT_TYPES()["required"]["head"][0][0] == "zeroshot"


# --- example workflows ------------------------------------------------------------------------

CORE_NODES = {"CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage",
              "LoadImage"}


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*_api.json")), ids=lambda p: p.name)
def test_api_workflows_are_well_formed(path: Path) -> None:
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


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*_ui.json")), ids=lambda p: p.name)
def test_ui_workflows_are_well_formed(path: Path) -> None:
    ui = json.loads(path.read_text())
    nodes = {n["id"]: n for n in ui["nodes"]}
    assert ui["last_node_id"] == max(nodes) and ui["last_link_id"] == max(link[0] for link in ui["links"])
    for link_id, src, src_slot, dst, dst_slot, typ in ui["links"]:
        assert nodes[src]["outputs"][src_slot]["type"] == typ and link_id in nodes[src]["outputs"][src_slot]["links"]
        assert nodes[dst]["inputs"][dst_slot]["link"] == link_id
    assert (WORKFLOWS / path.name.replace("_ui.json", "_api.json")).is_file()
