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
from build_workflows import WORKFLOWS as EXAMPLES
from comfy_server import REPO, ComfyServer, start
from make_declip_models import (
    ADAPTER_SD15,
    ADAPTER_SDXL,
    ADAPTER_WRONG_DECLIP,
    DECLIP_NAME,
    ORPHAN,
    make_declip_models,
)
from make_tiny_sd15 import make_tiny_sd15
from PIL import Image
from ui_to_api import ui_to_api

COMFYUI_PATH = os.environ.get("COMFYUI_PATH")
TEMPLATES = REPO / "comfyui_nodes" / "example_workflows"  # UI format: what ComfyUI lists as templates
API = REPO / "tests" / "fixtures" / "comfy_workflows"  # the same graphs in API format
OUR_NODES = {"DeCLIPLoader", "DPAdapterLoader", "DeCLIPImageEncode", "DeCLIPPhraseEncode", "DPAdapterApply",
             "DeCLIPQualityScore", "DeCLIPBestOfN", "DeCLIPQualityFilter"}

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
    shutil.copy(REPO / "declip_core" / "assets" / "samples" / "chelsea.png", base / "input" / "example.png")
    srv = start(Path(COMFYUI_PATH), base, python=os.environ.get("COMFYUI_PYTHON"))
    try:
        yield srv
    finally:
        srv.stop()


def _api(slug: str) -> dict[str, Any]:
    return json.loads((API / f"{slug}_api.json").read_text())


def _tiny(graph: dict[str, Any]) -> dict[str, Any]:
    """An example graph on the tiny test model: DiffusersLoader for the checkpoint, 2 steps, 64x64, and
    the random SD1.5 test adapter in place of the hint the templates carry."""
    g = copy.deepcopy(graph)
    for node in g.values():
        node.pop("_meta", None)
        if node["class_type"] == "DPAdapterLoader":
            node["inputs"]["adapter_name"] = ADAPTER_SD15
        elif node["class_type"] == "CheckpointLoaderSimple":
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
    images = [im for out in entry["outputs"].values() for im in out.get("images", []) if im.get("type") == "output"]
    assert len(images) == 1
    return np.asarray(Image.open(io.BytesIO(server.view(images[0]))).convert("RGB"), dtype=np.float32)


def _error(entry: dict[str, Any]) -> dict[str, Any]:
    assert entry["status"]["status_str"] == "error"
    return next(m[1] for m in entry["status"]["messages"] if m[0] == "execution_error")


def test_pack_is_loaded_and_lists_models(server: ComfyServer) -> None:
    info = server.get("/object_info")
    assert OUR_NODES <= info.keys(), server.log()[-3000:]
    from comfyui_nodes.model_paths import unusable_label
    from declip_core.pretrained import list_pretrained

    # usable files in models/declip/ first, then files that cannot be loaded (marked, listed once: the orphan's
    # tensors are a DeCLIP model's), then the bundled tags
    names = info["DeCLIPLoader"]["input"]["required"]["declip_name"][0]
    assert names[0] == DECLIP_NAME and names[2:] == list_pretrained("declip") and "lite" in names
    assert names[1] == unusable_label(ORPHAN), names
    assert info["DPAdapterLoader"]["input"]["required"]["adapter_name"][0] == sorted(
        [ADAPTER_SD15, ADAPTER_SDXL, ADAPTER_WRONG_DECLIP]) + list_pretrained("dp_adapter")
    assert info["DPAdapterApply"]["output"] == ["CONDITIONING"]
    server.get("/object_info")
    assert server.log().count(f"{ORPHAN} cannot be loaded") == 1  # logged once, however often the UI asks
    for name, node in info.items():  # every input and output of the pack explained in a tooltip
        if name in OUR_NODES:
            specs = {**node["input"]["required"], **node["input"].get("optional", {})}
            assert all(len(s) > 1 and s[1].get("tooltip") for s in specs.values()), name
            assert len(node["output_tooltips"]) == len(node["output"]) and all(node["output_tooltips"]), name
            assert "DeCLIP" in node["display_name"], name


def test_choosing_an_unusable_checkpoint_says_why(server: ComfyServer) -> None:
    info = server.get("/object_info")
    orphan = info["DeCLIPLoader"]["input"]["required"]["declip_name"][0][1]
    graph = _api("quality_score")
    next(n for n in graph.values() if n["class_type"] == "DeCLIPLoader")["inputs"]["declip_name"] = orphan
    err = _error(server.run(graph))
    assert err["node_type"] == "DeCLIPLoader" and ".json beside it" in err["exception_message"]
    assert f"cannot load models/declip/{ORPHAN}" in err["exception_message"]
    assert "comfy_base" not in err["exception_message"]  # no absolute server path


def test_phrase_workflow_conditions_real_sampling(server: ComfyServer) -> None:
    graph = _tiny(_api("perceptual_phrase"))
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


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda w: w.slug)
def test_templates_match_their_api_fixtures(server: ComfyServer, example: Any) -> None:
    """Each UI template, converted as the frontend would, is its API fixture (which the other tests queue)."""
    info = server.get("/object_info")
    ui = json.loads((TEMPLATES / f"{example.name}.json").read_text())
    assert ui_to_api(ui, info) == _api(example.slug)
    assert (TEMPLATES / f"{example.name}.jpg").is_file()


def test_quality_template_runs_as_shipped_and_agrees_with_pyiqa(server: ComfyServer) -> None:
    """The quality template needs nothing but the pack (the shipped lite weights); its score is pyiqa's."""
    import pyiqa
    import torch

    entry = server.run(_api("quality_score"))
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    shown = {v["text"][0].split(",")[0]: v["scores"] for v in entry["outputs"].values() if "text" in v}
    image = torch.from_numpy(np.asarray(Image.open(REPO / "declip_core" / "assets" / "samples" / "chelsea.png")
                                        .convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    for metric, label in (("tech", "DeCLIP technical quality"), ("aes", "DeCLIP aesthetic quality")):
        expected = float(pyiqa.create_metric(f"declip_{metric}", device="cpu")(image).item())
        assert shown[label] == pytest.approx([expected], abs=1e-4), metric


def test_own_declip_checkpoint_never_loses_the_generated_image(server: ComfyServer) -> None:
    """'Copy a look' with the user's own DeCLIP checkpoint and an adapter trained on it: the default head falls
    back to zeroshot (with a note) and the image is saved; an explicit head of the other metric is refused
    when the workflow is queued (node_errors), before anything is sampled, and the rest still runs."""
    graph = _tiny(_api("perceptual_reference"))
    _node(graph, "DeCLIPLoader")["inputs"]["declip_name"] = DECLIP_NAME
    _node(graph, "DPAdapterLoader")["inputs"]["adapter_name"] = ADAPTER_WRONG_DECLIP  # trained on DECLIP_NAME
    entry = server.run(graph)
    assert _image(server, entry).shape == (64, 64, 3)
    text = next(v for v in entry["outputs"].values() if "text" in v)["text"][0]
    assert "head zeroshot" in text and f"does not fit DeCLIP models/declip/{DECLIP_NAME}" in text
    wrong = copy.deepcopy(graph)
    _node(wrong, "DeCLIPQualityScore")["inputs"]["head"] = "lite-aes"
    _node(wrong, "KSampler")["inputs"]["seed"] += 1  # a new sample (ComfyUI would reuse the cached one)
    status, answer = server.post_prompt(wrong)
    score_id = next(k for k, v in wrong.items() if v["class_type"] == "DeCLIPQualityScore")
    # ComfyUI refuses the score node at queue time and still runs the valid outputs: the image is saved
    assert status == 200 and "scores 'aes', but metric 'tech'" in json.dumps(answer["node_errors"][score_id])
    entry = server.wait_history(answer["prompt_id"])
    assert _image(server, entry).shape == (64, 64, 3) and score_id not in entry["outputs"]


def test_reference_template_runs_with_an_adapter(server: ComfyServer) -> None:
    entry = server.run(_tiny(_api("perceptual_reference")))
    _image(server, entry)
    out = next(v for v in entry["outputs"].values() if "text" in v)
    assert "technical quality" in out["text"][0] and np.isfinite(out["scores"][0])


def test_best_of_n_template_keeps_the_best_sample(server: ComfyServer) -> None:
    graph = _tiny(_api("best_of_n"))
    best_id = next(k for k, v in graph.items() if v["class_type"] == "DeCLIPBestOfN")
    dec_id = next(k for k, v in graph.items() if v["class_type"] == "VAEDecode")
    graph["score_all"] = {"class_type": "DeCLIPQualityScore", "inputs": {
        "image": [dec_id, 0], "declip": graph[best_id]["inputs"]["declip"], "metric": "tech", "head": "default"}}
    entry = server.run(graph)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    all_scores = entry["outputs"]["score_all"]["scores"]
    best = entry["outputs"][best_id]
    assert len(all_scores) == 4 and best["scores"] == [max(all_scores)]
    assert "best 1 of 4" in best["text"][0]
    saved = [im for v in entry["outputs"].values() for im in v.get("images", []) if im["type"] == "output"]
    previews = [im for v in entry["outputs"].values() for im in v.get("images", []) if im["type"] == "temp"]
    assert len(saved) == 1 and len(previews) == 4
    kept = np.asarray(Image.open(io.BytesIO(server.view(saved[0]))).convert("RGB"), dtype=np.float32)
    index = all_scores.index(max(all_scores))
    sample = np.asarray(Image.open(io.BytesIO(server.view(previews[index]))).convert("RGB"), dtype=np.float32)
    np.testing.assert_array_equal(kept, sample)  # the saved image is the best-scoring sample


def test_redo_bad_region_template_inpaints_where_the_mask_says(server: ComfyServer) -> None:
    """The template's Quality Score `quality_mask` (1 = bad) drives Threshold Mask and VAE Encode (for
    Inpainting); the redrawn image is saved and scored again."""
    graph = _tiny(_api("redo_bad_region"))
    entry = server.run(graph)
    _image(server, entry)  # exactly one saved image
    texts = [v["text"][0] for v in entry["outputs"].values() if "text" in v]
    assert len(texts) == 2 and all("technical quality" in t for t in texts)


def test_adapter_of_another_declip_is_refused(server: ComfyServer) -> None:
    """An adapter trained on another DeCLIP checkpoint of the same width: a clear error, not silent misuse."""
    graph = _tiny(_api("perceptual_phrase"))
    _node(graph, "DPAdapterLoader")["inputs"]["adapter_name"] = ADAPTER_WRONG_DECLIP
    err = _error(server.run(graph))
    assert err["node_type"] == "DPAdapterApply" and err["exception_type"] == "ValueError"
    assert "trained on DeCLIP checkpoint" in err["exception_message"]


def test_bad_graphs_are_rejected_or_fail_clearly(server: ComfyServer) -> None:
    graph = _tiny(_api("perceptual_phrase"))
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


def test_apply_matches_comfyui_stylemodelapply() -> None:
    """Same tokens through ComfyUI's StyleModelApply and our node: same tensors, masks and keys."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    python = os.environ.get("COMFYUI_PYTHON") or sys.executable
    r = subprocess.run([python, str(Path(__file__).with_name("stylemodel_parity.py"))], env=env, check=False,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"plain": True, "bool_mask": True, "none_mask": True,
                                                              "float_mask_img_shape": True}
