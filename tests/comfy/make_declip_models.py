"""Write random-weight DeCLIP checkpoints for the ComfyUI integration test (never committed).

declip_lite.safetensors: the `lite` backbone with a random disentangler (loadable by name);
dp_adapter_sd15.safetensors / dp_adapter_sdxl.safetensors: random DP-Adapters, 768 and 2048 wide;
dp_adapter_sd15_other_declip.safetensors: an SD1.5 adapter recorded as trained on declip_lite.safetensors (so
applying it to embeddings of the shipped `lite` model must be refused);
declip_orphan.safetensors: a checkpoint copied without its .json (listed as unusable).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import torch

DECLIP_NAME = "declip_lite.safetensors"
ADAPTER_SD15 = "dp_adapter_sd15.safetensors"
ADAPTER_SDXL = "dp_adapter_sdxl.safetensors"
ADAPTER_WRONG_DECLIP = "dp_adapter_sd15_other_declip.safetensors"
ORPHAN = "declip_orphan.safetensors"


def make_declip_models(folder: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write the test checkpoints into `folder` (ComfyUI's models/declip); returns their paths."""
    from declip_core.adapter import DPAdapter, DPAdapterConfig, save_adapter
    from declip_core.backbones import create_backbone
    from declip_core.checkpoint import read_config
    from declip_core.inference import DeCLIP
    from declip_core.model import Disentangler, DisentanglerConfig

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    bb = create_backbone("lite")
    dcfg = DisentanglerConfig(backbone="lite", image_in_dim=bb.info.feature_dim, text_in_dim=bb.info.text_dim,
                              perceptual_dim=64, semantic_dim=64, hidden=128, depth=1, text_hidden=128,
                              text_depth=1, dropout=0.0)
    paths = {"declip": DeCLIP(bb, Disentangler(dcfg)).eval().save(out / DECLIP_NAME, extra={"note": "random test weights"})}
    for key, family, name in (("sd15", "sd15", ADAPTER_SD15), ("sdxl", "sdxl", ADAPTER_SDXL)):
        adapter = DPAdapter(DPAdapterConfig.for_family(family, perceptual_dim=64, hidden_dim=64))
        paths[key] = save_adapter(adapter, out / name, {"note": "random test weights"})
    other = DPAdapter(DPAdapterConfig.for_family("sd15", perceptual_dim=64, hidden_dim=64))
    other.declip_sha256 = read_config(paths["declip"])["sha256"]
    paths["other_declip"] = save_adapter(other, out / ADAPTER_WRONG_DECLIP, {"note": "random test weights"})
    paths["orphan"] = out / ORPHAN
    shutil.copy(paths["declip"], paths["orphan"])  # no .json beside it
    return paths
