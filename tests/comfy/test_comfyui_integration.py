"""The node pack inside a real ComfyUI: loaded, listed, and driving real sampling over the HTTP API.

Run (see docs/generation.md):
    COMFYUI_PATH=/path/to/ComfyUI /path/to/comfy-venv/bin/python -m pytest tests/comfy -m comfyui
The Python running pytest also runs ComfyUI (override with COMFYUI_PYTHON); it needs ComfyUI's
requirements plus diffusers and DeCLIP's dependencies. Skipped when COMFYUI_PATH is unset.
"""
from __future__ import annotations

import copy
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from comfy_server import REPO, ComfyServer, start
from make_declip_models import ADAPTER_SD15, ADAPTER_SDXL, DECLIP_NAME, make_declip_models
from make_tiny_sd15 import make_tiny_sd15
from PIL import Image
from ui_to_api import ui_to_api

COMFYUI_PATH = os.environ.get("COMFYUI_PATH")
WORKFLOWS = REPO / "comfyui_nodes" / "workflows"
OUR_NODES = {"DeCLIPLoader", "DPAdapterLoader", "DeCLIPImageEncode", "DeCLIPPhraseEncode", "DPAdapterApply",
             "DeCLIPQualityScore"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.comfyui,
    pytest.mark.skipif(not COMFYUI_PATH, reason="set COMFYUI_PATH to a ComfyUI checkout to run"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComfyServer]:
    """ComfyUI with a temporary base directory: our pack linked in, tiny SD1.5 and DeCLIP checkpoints."""
    base = tmp_path_factory.mktemp("comfy_base")
    (base / "custom_nodes").mkdir()
    os.symlink(REPO / "comfyui_nodes", base / "custom_nodes" / "declip", target_is_directory=True)
    make_tiny_sd15(base / "models" / "diffusers" / "tiny_sd15")
    make_declip_models(base / "models" / "declip")
    (base / "input").mkdir()
    shutil.copy(REPO / "declip_core" / "assets" / "samples" / "chelsea.png", base / "input" / "reference.png")
    srv = start(Path(COMFYUI_PATH), base, python=os.environ.get("COMFYUI_PYTHON"))
    try:
        yield srv
    finally:
        srv.stop()


def _tiny(graph: dict[str, Any]) -> dict[str, Any]:
    """An example graph on the tiny test model: DiffusersLoader for the checkpoint, 2 steps, 64x64."""
    g = copy.deepcopy(graph)
    for node in g.values():
        node.pop("_meta", None)
        if node["class_type"] == "CheckpointLoaderSimple":
            node["class_type"], node["inputs"] = "DiffusersLoader", {"model_path": "tiny_sd15"}
        elif node["class_type"] == "KSampler":
            node["inputs"]["steps"] = 2
        elif node["class_type"] == "EmptyLatentImage":
            node["inputs"].update(width=64, height=64)
    return g


def _node(graph: dict[str, Any], class_type: str) -> dict[str, Any]:
    return next(n for n in graph.values() if n["class_type"] == class_type)


def _image(server: ComfyServer, entry: dict[str, Any]) -> np.ndarray:
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    images = [im for out in entry["outputs"].values() for im in out.get("images", [])]
    assert len(images) == 1
    return np.asarray(Image.open(io.BytesIO(server.view(images[0]))).convert("RGB"), dtype=np.float32)


def _error(entry: dict[str, Any]) -> dict[str, Any]:
    assert entry["status"]["status_str"] == "error"
    return next(m[1] for m in entry["status"]["messages"] if m[0] == "execution_error")


def test_pack_is_loaded_and_lists_models(server: ComfyServer) -> None:
    info = server.get("/object_info")
    assert OUR_NODES <= info.keys(), server.log()[-3000:]
    from declip_core.pretrained import list_pretrained

    # files in models/declip/ first, then the bundled weight tags (e.g. `lite`)
    assert info["DeCLIPLoader"]["input"]["required"]["declip_name"][0] == [DECLIP_NAME, *list_pretrained("declip")]
    assert "lite" in list_pretrained("declip")
    assert info["DPAdapterLoader"]["input"]["required"]["adapter_name"][0] == sorted(
        [ADAPTER_SD15, ADAPTER_SDXL]) + list_pretrained("dp_adapter")
    assert info["DPAdapterApply"]["output"] == ["CONDITIONING"]


def test_phrase_workflow_conditions_real_sampling(server: ComfyServer) -> None:
    graph = _tiny(json.loads((WORKFLOWS / "perceptual_phrase_sd15_api.json").read_text()))
    apply = _node(graph, "DPAdapterApply")
    on = _image(server, server.run(graph))
    apply["inputs"]["strength"] = 0.0
    off = _image(server, server.run(graph))
    plain = copy.deepcopy(graph)  # the same graph without the adapter
    _node(plain, "KSampler")["inputs"]["positive"] = apply["inputs"]["conditioning"]
    baseline = _image(server, server.run(plain))
    assert on.shape == (64, 64, 3) and on.std() > 1.0
    np.testing.assert_array_equal(off, baseline)  # strength 0 is exactly the plain workflow
    assert np.abs(on - baseline).mean() > 0.1  # the perceptual tokens reached the UNet


def test_reference_ui_workflow_runs(server: ComfyServer) -> None:
    """The UI-format example, converted as the frontend would, runs up to the decoded image."""
    info = server.get("/object_info")
    graph = _tiny(ui_to_api(json.loads((WORKFLOWS / "perceptual_reference_sd15_ui.json").read_text()), info))
    api = _tiny(json.loads((WORKFLOWS / "perceptual_reference_sd15_api.json").read_text()))
    assert graph == api  # the two example files describe the same graph
    quality_available = _has_quality_models()
    if not quality_available:
        graph = {k: v for k, v in graph.items() if v["class_type"] != "DeCLIPQualityScore"}
    entry = server.run(graph)
    _image(server, entry)
    if quality_available:
        out = next(v for v in entry["outputs"].values() if "text" in v)
        assert "quality" in out["text"][0] and np.isfinite(out["score"][0])


def test_phrase_ui_workflow_matches_api(server: ComfyServer) -> None:
    info = server.get("/object_info")
    ui = ui_to_api(json.loads((WORKFLOWS / "perceptual_phrase_sd15_ui.json").read_text()), info)
    api = json.loads((WORKFLOWS / "perceptual_phrase_sd15_api.json").read_text())
    assert ui == {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in api.items()}


def test_bad_graphs_are_rejected_or_fail_clearly(server: ComfyServer) -> None:
    graph = _tiny(json.loads((WORKFLOWS / "perceptual_phrase_sd15_api.json").read_text()))
    loader_id = next(k for k, v in graph.items() if v["class_type"] == "DPAdapterLoader")
    missing = copy.deepcopy(graph)
    missing[loader_id]["inputs"]["adapter_name"] = "no_such_adapter.safetensors"
    status, answer = server.post_prompt(missing)
    assert status == 400 and loader_id in answer["node_errors"]
    wrong_width = copy.deepcopy(graph)
    wrong_width[loader_id]["inputs"]["adapter_name"] = ADAPTER_SDXL  # 2048-wide tokens on SD1.5 conditioning
    err = _error(server.run(wrong_width))
    assert err["node_type"] == "DPAdapterApply" and err["exception_type"] == "ValueError"
    assert "768 wide" in err["exception_message"] and "2048" in err["exception_message"]


def _has_quality_models() -> bool:
    try:
        import declip_core.iqa  # noqa: F401
    except ImportError:
        return False
    return True


def test_apply_matches_comfyui_stylemodelapply() -> None:
    """Same tokens through ComfyUI's StyleModelApply and our node: same tensors, masks and keys."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    python = os.environ.get("COMFYUI_PYTHON") or sys.executable
    r = subprocess.run([python, str(Path(__file__).with_name("stylemodel_parity.py"))], env=env, check=False,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"plain": True, "bool_mask": True, "none_mask": True,
                                                              "float_mask_img_shape": True}
