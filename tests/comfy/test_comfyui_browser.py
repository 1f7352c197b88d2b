"""The node pack as a user sees it: a real ComfyUI on loopback, its editor in headless Chromium (selenium).

Checks that every DeCLIP node is found by typing "DeCLIP" in the node search, that every template of the pack
opens from the Templates panel without a dialog or an error toast (with its thumbnail, all nodes, no two
nodes overlapping, the pack's link colours), and that a queued quality workflow shows the scores on the node.
Screenshots go to $DECLIP_ARTIFACTS (default: <repo>/artifacts/comfyui_browser/).

Run (see docs/generation.md):
    COMFYUI_PATH=/path/to/ComfyUI COMFYUI_PYTHON=/path/to/comfy-venv/bin/python \
        python -m pytest tests/comfy/test_comfyui_browser.py
Skipped when COMFYUI_PATH is unset, or selenium / Debian's chromium + chromium-driver are missing.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import missing_reason, start_chromium
from comfy_server import REPO, ComfyServer, start

COMFYUI_PATH = os.environ.get("COMFYUI_PATH")
ORPHAN = "my_declip.safetensors"
ARTIFACTS = Path(os.environ.get("DECLIP_ARTIFACTS", REPO / "artifacts")) / "comfyui_browser"
TEMPLATES = REPO / "comfyui_nodes" / "example_workflows"
_MISSING = missing_reason()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.comfyui,
    pytest.mark.skipif(not COMFYUI_PATH, reason="set COMFYUI_PATH to a ComfyUI checkout to run the browser test"),
    pytest.mark.skipif(_MISSING is not None, reason=f"browser test: {_MISSING}"),
]


FOLDER = "declip_folder"  # input/declip_folder: five images of three sizes, for Load Image Dataset from Folder
FOLDER_SIZES = ((64, 64), (96, 80), (96, 80), (128, 128), (128, 128))  # (width, height)


def _write_folder(folder: Path) -> None:
    """Five versions of the sample photo in three sizes, some blurred or noised (so that their scores differ)."""
    import numpy as np
    from PIL import Image, ImageFilter

    folder.mkdir(parents=True)
    with Image.open(REPO / "declip_core" / "assets" / "samples" / "chelsea.png") as im:
        photo = im.convert("RGB")
    rng = np.random.default_rng(0)
    for i, size in enumerate(FOLDER_SIZES):
        img = photo.resize(size, Image.BICUBIC)
        if i == 2:
            img = img.filter(ImageFilter.GaussianBlur(3))
        if i == 4:
            noisy = np.asarray(img, dtype=np.float32) + rng.normal(0, 40, (size[1], size[0], 3))
            img = Image.fromarray(noisy.clip(0, 255).astype(np.uint8))
        img.save(folder / f"image_{i}.png")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ComfyUI's base directory of the browser test (the own-checkpoint test adds models to it later)."""
    return tmp_path_factory.mktemp("comfy_browser_base")


@pytest.fixture(scope="module")
def server(base: Path) -> Iterator[ComfyServer]:
    """A fresh-install ComfyUI: only our pack linked in, ComfyUI's own input/example.png and a folder of images;
    no models."""
    (base / "custom_nodes").mkdir()
    os.symlink(REPO / "comfyui_nodes", base / "custom_nodes" / "declip", target_is_directory=True)
    (base / "input").mkdir()
    example = Path(COMFYUI_PATH) / "input" / "example.png"
    if not example.is_file():  # older checkouts: any picture will do
        example = REPO / "declip_core" / "assets" / "samples" / "chelsea.png"
    shutil.copy(example, base / "input" / "example.png")
    _write_folder(base / "input" / FOLDER)
    (base / "models" / "declip").mkdir(parents=True)  # a checkpoint copied without its .json
    from declip_core.pretrained import (
        resolve_checkpoint,  # the shipped DeCLIP, whatever its version
    )

    shutil.copy(resolve_checkpoint("lite", kind="declip"), base / "models" / "declip" / ORPHAN)
    # not a first start: otherwise the editor opens the Templates panel and loads a core template by itself
    (base / "user" / "default").mkdir(parents=True)
    (base / "user" / "default" / "comfy.settings.json").write_text(json.dumps({"Comfy.TutorialCompleted": True}))
    srv = start(Path(COMFYUI_PATH), base, python=os.environ.get("COMFYUI_PYTHON"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    d = start_chromium(tmp_path_factory.mktemp("chromium_profile"))
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture
def editor(server: ComfyServer, driver: Any) -> Any:
    import comfy_ui

    comfy_ui.open_editor(driver, server.url)
    return driver


def test_every_node_is_found_by_searching_declip(editor: Any) -> None:
    import comfy_ui

    from comfyui_nodes import NODE_DISPLAY_NAME_MAPPINGS

    try:
        found = comfy_ui.search_nodes(editor, "DeCLIP")
    finally:
        comfy_ui.screenshot(editor, ARTIFACTS / "search_declip.png")
    assert set(NODE_DISPLAY_NAME_MAPPINGS.values()) <= set(found), found


def test_every_template_loads_without_a_dialog(editor: Any) -> None:
    import comfy_ui

    from comfyui_nodes.loaders import NO_ADAPTER
    from comfyui_nodes.socket_types import LINK_COLOURS

    names = comfy_ui.template_names(editor)
    assert sorted(names) == sorted(p.stem for p in TEMPLATES.glob("*.json"))  # all listed, nothing else
    for name in names:
        comfy_ui.open_template(editor, name)
        assert comfy_ui.open_dialogs(editor) == [], name
        assert comfy_ui.error_toasts(editor) == [], name
        nodes = comfy_ui.graph_nodes(editor)
        expected = json.loads((TEMPLATES / f"{name}.json").read_text())["nodes"]
        assert sorted(n["type"] for n in nodes) == sorted(n["type"] for n in expected), name
        assert comfy_ui.overlaps(nodes) == [], name
        assert comfy_ui.thumbnail_loaded(editor, name), f"{name}: no thumbnail {name}.jpg"
        assert comfy_ui.link_colours(editor, list(LINK_COLOURS)) == LINK_COLOURS
        for values, options in editor.execute_script(  # no adapter installed: the loader shows the hint
                "return app.graph._nodes.filter(n => n.type === 'DPAdapterLoader').map(n => "
                "[n.widgets[0].value, n.widgets[0].options.values])"):
            assert values == NO_ADAPTER and options == [NO_ADAPTER]  # the unusable DeCLIP file is not listed here
        comfy_ui.fit_view(editor)
        comfy_ui.screenshot(editor, ARTIFACTS / f"template {name}.png")


def test_queued_quality_workflow_shows_scores_on_the_node(editor: Any, server: ComfyServer) -> None:
    import comfy_ui

    comfy_ui.open_template(editor, "DeCLIP - Score image quality (runs as is)")
    before = comfy_ui.node_text(editor, "DeCLIPQualityScore")
    assert before == ["", ""]  # the empty text box, before any run
    comfy_ui.press_run(editor)
    texts = comfy_ui.wait_for(
        editor, "const t = app.graph._nodes.filter(n => n.type === 'DeCLIPQualityScore').map(n => "
                "(n.widgets || []).find(w => w.name === 'declip_scores')?.value || ''); "
                "return t.length && t.every(x => x.includes('image 0')) ? t : null", 300, "scores on the node")
    comfy_ui.screenshot(editor, ARTIFACTS / "quality_scores_on_node.png")
    assert comfy_ui.open_dialogs(editor) == [] and comfy_ui.error_toasts(editor) == []
    history = server.get("/history")
    shown = sorted(v["text"][0] for entry in history.values() for v in entry["outputs"].values() if "text" in v)
    assert sorted(texts) == shown  # what the node shows is what the server returned
    from declip_core.checkpoint import read_config
    from declip_core.pretrained import resolve_checkpoint

    kind = {m: read_config(resolve_checkpoint(f"lite-{m}", kind="iqa_head"))["head_type"] for m in ("tech", "aes")}
    assert any(f"technical quality, head lite-tech ({kind['tech']})" in t for t in texts), texts
    assert any(f"aesthetic quality, head lite-aes ({kind['aes']})" in t for t in texts), texts


def test_unusable_checkpoint_is_listed_and_its_error_shown(editor: Any, base: Path) -> None:
    """A .safetensors without its .json: marked in the DeCLIP Loader's list; choosing it and pressing Run shows
    ComfyUI's error dialog with the reason."""
    import comfy_ui

    comfy_ui.open_template(editor, "DeCLIP - Score image quality (runs as is)")
    options = editor.execute_script(
        "const n = app.graph._nodes.find(n => n.type === 'DeCLIPLoader');"
        "return n.widgets.find(w => w.name === 'declip_name').options.values;")
    marked = [o for o in options if ORPHAN in o]
    assert marked == [f"⚠ unusable: {ORPHAN} (choose it for the reason)"]  # short: no server path, no parser text
    editor.execute_script(
        "const n = app.graph._nodes.find(n => n.type === 'DeCLIPLoader');"
        "const w = n.widgets.find(w => w.name === 'declip_name'); w.value = arguments[0]; w.callback?.(w.value);",
        marked[0])
    comfy_ui.press_run(editor)
    dialogs = comfy_ui.wait_for(editor, "const d = [...document.querySelectorAll('.p-dialog')].map(d => d.innerText);"
                                        "return d.some(t => t.includes('beside it')) ? d : null", 120,
                                "the error dialog")
    comfy_ui.screenshot(editor, ARTIFACTS / "unusable_checkpoint_error.png")
    assert any("DeCLIPLoader" in d or "DeCLIP Loader" in d for d in dialogs), dialogs
    assert any(f"models/declip/{ORPHAN}: no my_declip.json beside it" in d for d in dialogs), dialogs
    assert not any(str(base) in d for d in dialogs), dialogs  # no absolute server path
    comfy_ui.close_dialogs(editor)


def _run(editor: Any, server: ComfyServer, timeout: float = 600) -> dict[str, Any]:
    """Press Run and wait for that run's history entry (node ids repeat between graphs: only this run counts)."""
    import time

    import comfy_ui

    before = set(server.get("/history"))
    comfy_ui.press_run(editor)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        new = {k: v for k, v in server.get("/history").items() if k not in before}
        done = [v for v in new.values() if v.get("status", {}).get("completed") is not None]
        if done:
            return done[0]
        time.sleep(0.5)
    raise TimeoutError(f"the run did not finish in {timeout} s")


def _out(entry: dict[str, Any], node_id: int) -> dict[str, Any] | None:
    """One node's UI output in a run (None: it did not run or shows nothing)."""
    return entry["outputs"].get(str(node_id))


def _new_graph(editor: Any) -> None:
    import comfy_ui

    comfy_ui.close_dialogs(editor)
    editor.execute_script("app.graph.clear(); app.canvas.setDirty(true, true);")


def _assert_readable(editor: Any, node_id: int, name: str) -> dict[str, Any]:
    """The node's whole score text is on screen: shown, nothing scrolled away, inside the node."""
    import comfy_ui

    comfy_ui.reset_view(editor, node_id)
    box = comfy_ui.text_box(editor, node_id)
    comfy_ui.screenshot(editor, ARTIFACTS / f"{name}.png")
    assert box and box["shown"] and box["fits"] and box["inside"], box
    return box


def test_pack_logs_no_console_warnings(editor: Any) -> None:
    """The pack uses public frontend APIs only: loading the editor logs nothing about it (e.g. the frontend's
    warning for extensions importing its internal scripts/widgets.js)."""
    import comfy_ui

    comfy_ui.search_nodes(editor, "DeCLIP")  # make the editor build our nodes, too
    comfy_ui.close_dialogs(editor)
    ours = [m for m in comfy_ui.browser_warnings(editor) if "declip" in m.lower() or "widgets.js" in m]
    assert ours == []


def test_folder_list_into_best_of_n_selects_over_all(editor: Any, server: ComfyServer) -> None:
    """Load Image Dataset from Folder (an IMAGE list of three sizes) into Best of N: one selection over all
    five images, every score shown, and Preview as Text shows the whole scores list."""
    import comfy_ui

    _new_graph(editor)
    folder = comfy_ui.add_node(editor, "LoadImageDataSetFromFolder", (0, 0), {"folder": FOLDER})
    declip = comfy_ui.add_node(editor, "DeCLIPLoader", (0, 200))
    best = comfy_ui.add_node(editor, "DeCLIPBestOfN", (400, 0), {"k": 2})
    preview = comfy_ui.add_node(editor, "PreviewImage", (1300, 0))
    text = comfy_ui.add_node(editor, "PreviewAny", (1300, 400))
    comfy_ui.connect(editor, folder, "images", best, "images")
    comfy_ui.connect(editor, declip, "declip", best, "declip")
    comfy_ui.connect(editor, best, "images", preview, "images")
    comfy_ui.connect(editor, best, "scores", text, "source")
    entry = _run(editor, server)
    shown = comfy_ui.wait_text(editor, best, "best 2 of 5")
    assert comfy_ui.open_dialogs(editor) == [] and comfy_ui.error_toasts(editor) == []
    out = _out(entry, best)
    listed = {int(line.split("image ")[1].split(" ")[0]): float(line.rsplit(": ", 1)[1].split()[0])
              for line in shown.splitlines() if "image " in line}
    assert sorted(listed) == [0, 1, 2, 3, 4]  # all five, the rejected ones too
    assert out["scores"] == pytest.approx(sorted(listed.values(), reverse=True)[:2], abs=1e-3)
    assert "(64x64)" in shown and "(80x96)" not in shown and "(96x80)" in shown and "(128x128)" in shown
    assert len(_out(entry, preview)["images"]) == 2
    preview_text = _out(entry, text)["text"]
    assert len(preview_text) == 1 and json.loads(preview_text[0]) == pytest.approx(out["scores"])  # in full
    _assert_readable(editor, best, "folder_list_best_of_n")


def test_fresh_score_node_shows_its_score_without_resizing(editor: Any) -> None:
    """A Quality Score node added from the node search at its default size grows to show its text after a run."""
    import comfy_ui
    from selenium.webdriver.common.keys import Keys

    comfy_ui.search_nodes(editor, "DeCLIP Quality Score")
    editor.execute_script(comfy_ui.SEARCH_BOX).send_keys(Keys.ENTER)
    score = comfy_ui.wait_for(editor, "return app.graph._nodes.find(n => n.type === 'DeCLIPQualityScore')?.id", 20,
                              "the added node")
    fresh = editor.execute_script("return Array.from(app.graph.getNodeById(arguments[0]).size)", score)
    image = comfy_ui.add_node(editor, "LoadImage", (-450, 0), {"image": "example.png"})
    declip = comfy_ui.add_node(editor, "DeCLIPLoader", (-450, 420))
    comfy_ui.connect(editor, image, "IMAGE", score, "image")
    comfy_ui.connect(editor, declip, "declip", score, "declip")
    comfy_ui.press_run(editor)
    text = comfy_ui.wait_text(editor, score, "image 0: ")
    box = _assert_readable(editor, score, "fresh_score_node")
    assert box["text"] == text and box["size"][1] > fresh[1] and box["size"][0] >= fresh[0]


def test_batch_of_8_is_fully_readable(editor: Any, server: ComfyServer) -> None:
    """Eight images: the score node and Best of N show all eight scores at once (Best of N marks the kept one)."""
    import comfy_ui

    _new_graph(editor)
    image = comfy_ui.add_node(editor, "LoadImage", (0, 0), {"image": "example.png"})
    eight = comfy_ui.add_node(editor, "RepeatImageBatch", (0, 420), {"amount": 8})
    blurred = comfy_ui.add_node(editor, "ImageBlur", (0, 560), {"blur_radius": 3})
    declip = comfy_ui.add_node(editor, "DeCLIPLoader", (0, 720))
    score = comfy_ui.add_node(editor, "DeCLIPQualityScore", (400, 0))
    best = comfy_ui.add_node(editor, "DeCLIPBestOfN", (400, 500), {"k": 1})
    comfy_ui.connect(editor, image, "IMAGE", eight, "image")
    comfy_ui.connect(editor, eight, "IMAGE", score, "image")
    comfy_ui.connect(editor, eight, "IMAGE", blurred, "image")
    comfy_ui.connect(editor, blurred, "IMAGE", best, "images")
    for node in (score, best):
        comfy_ui.connect(editor, declip, "declip", node, "declip")
    comfy_ui.press_run(editor)
    text = comfy_ui.wait_text(editor, score, "image 7: ")
    best_text = comfy_ui.wait_text(editor, best, "best 1 of 8")
    assert all(f"image {i}: " in text for i in range(8)) and "mean: " in text
    assert all(f"image {i}: " in best_text for i in range(8)) and best_text.count("✓") == 2  # title + kept one
    _assert_readable(editor, score, "batch_of_8_score")
    _assert_readable(editor, best, "batch_of_8_best_of_n")


def test_empty_filter_result_stops_the_branch_with_a_message(editor: Any, server: ComfyServer) -> None:
    """Nothing reaches the threshold: 'stop' runs nothing after the filter (no crash in Save Image) and says why;
    the default keeps the best one and saves it."""
    import comfy_ui

    from comfyui_nodes.quality import KEEP_BEST, STOP

    _new_graph(editor)
    image = comfy_ui.add_node(editor, "LoadImage", (0, 0), {"image": "example.png"})
    declip = comfy_ui.add_node(editor, "DeCLIPLoader", (0, 420))
    filt = comfy_ui.add_node(editor, "DeCLIPQualityFilter", (400, 0), {"threshold": 1.0, "if_none_pass": STOP})
    save = comfy_ui.add_node(editor, "SaveImage", (1300, 0), {"filename_prefix": "declip_filter"})
    comfy_ui.connect(editor, image, "IMAGE", filt, "images")
    comfy_ui.connect(editor, declip, "declip", filt, "declip")
    comfy_ui.connect(editor, filt, "images", save, "images")
    entry = _run(editor, server)
    text = comfy_ui.wait_text(editor, filt, "STOPPED: none of 1 at or above 1")
    assert "Fix: lower the threshold, or set if_none_pass to 'keep the best one'" in text
    assert entry["status"]["status_str"] == "success", entry["status"]
    assert comfy_ui.open_dialogs(editor) == [] and comfy_ui.error_toasts(editor) == []
    assert _out(entry, save) is None  # Save Image did not run (and did not crash on an empty batch)
    assert comfy_ui.overlaps(comfy_ui.graph_nodes(editor)) == []  # the grown filter node stays clear of Save Image
    _assert_readable(editor, filt, "empty_filter_stopped")
    comfy_ui.set_widget(editor, filt, "if_none_pass", KEEP_BEST)
    entry = _run(editor, server)
    comfy_ui.wait_text(editor, filt, "kept the best one")
    assert len(_out(entry, save)["images"]) == 1
    _assert_readable(editor, filt, "empty_filter_kept_best")


def test_own_checkpoint_copy_a_look_saves_its_image(editor: Any, server: ComfyServer, base: Path) -> None:
    """'Copy a look' with the user's own DeCLIP checkpoint (and an adapter trained on it) on a tiny random SD1.5:
    sampling, Save Image and the final Quality Score all run; `default` falls back to the zero-shot head and
    says why, instead of failing the finished generation."""
    import comfy_ui
    from make_declip_models import ADAPTER_WRONG_DECLIP, DECLIP_NAME, make_declip_models
    from make_tiny_sd15 import make_tiny_sd15

    make_declip_models(base / "models" / "declip")  # ADAPTER_WRONG_DECLIP is recorded as trained on DECLIP_NAME
    make_tiny_sd15(base / "models" / "diffusers" / "tiny_sd15")
    comfy_ui.open_editor(editor, server.url)  # a reload picks up the new files, as pressing R does
    comfy_ui.open_template(editor, "DeCLIP - Copy a look (needs an SD checkpoint and a DP-Adapter)")
    (loader,) = comfy_ui.node_ids(editor, "DeCLIPLoader")
    (adapter,) = comfy_ui.node_ids(editor, "DPAdapterLoader")
    (sampler,) = comfy_ui.node_ids(editor, "KSampler")
    (latent,) = comfy_ui.node_ids(editor, "EmptyLatentImage")
    (save,) = comfy_ui.node_ids(editor, "SaveImage")
    (score,) = comfy_ui.node_ids(editor, "DeCLIPQualityScore")
    comfy_ui.set_widget(editor, loader, "declip_name", DECLIP_NAME)
    comfy_ui.set_widget(editor, adapter, "adapter_name", ADAPTER_WRONG_DECLIP)
    comfy_ui.set_widget(editor, sampler, "steps", 2)
    comfy_ui.set_widget(editor, latent, "width", 64)
    comfy_ui.set_widget(editor, latent, "height", 64)
    editor.execute_script(  # the tiny test model is a diffusers folder: Diffusers Loader in place of Load Checkpoint
        "const old = app.graph._nodes.find(n => n.type === 'CheckpointLoaderSimple');"
        "const n = LiteGraph.createNode('DiffusersLoader'); n.pos = [...old.pos]; app.graph.add(n);"
        "n.widgets.find(w => w.name === 'model_path').value = 'tiny_sd15';"
        "old.outputs.forEach((o, i) => [...(o.links || [])].forEach(id => {"
        "  const l = app.graph.links.get ? app.graph.links.get(id) : app.graph.links[id];"
        "  n.connect(n.outputs.findIndex(p => p.type === o.type), app.graph.getNodeById(l.target_id), l.target_slot); }));"
        "app.graph.remove(old); app.canvas.setDirty(true, true);")
    entry = _run(editor, server)
    assert entry["status"]["status_str"] == "success", entry["status"]
    text = comfy_ui.wait_text(editor, score, "image 0: ")
    assert "head zeroshot" in text and "note: default head: zeroshot, because the shipped head lite-tech does not " \
                                      f"fit DeCLIP models/declip/{DECLIP_NAME}" in text
    assert str(base) not in text
    assert len(_out(entry, save)["images"]) == 1  # the generated image is saved
    assert comfy_ui.open_dialogs(editor) == [] and comfy_ui.error_toasts(editor) == []
    comfy_ui.fit_view(editor)
    comfy_ui.screenshot(editor, ARTIFACTS / "own_checkpoint_copy_a_look.png")
    _assert_readable(editor, score, "own_checkpoint_copy_a_look_score")
