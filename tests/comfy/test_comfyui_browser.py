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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComfyServer]:
    """A fresh-install ComfyUI: only our pack linked in and ComfyUI's own input/example.png; no models."""
    base = tmp_path_factory.mktemp("comfy_browser_base")
    (base / "custom_nodes").mkdir()
    os.symlink(REPO / "comfyui_nodes", base / "custom_nodes" / "declip", target_is_directory=True)
    (base / "input").mkdir()
    example = Path(COMFYUI_PATH) / "input" / "example.png"
    if not example.is_file():  # older checkouts: any picture will do
        example = REPO / "declip_core" / "assets" / "samples" / "chelsea.png"
    shutil.copy(example, base / "input" / "example.png")
    (base / "models" / "declip").mkdir(parents=True)  # a checkpoint copied without its .json
    from declip_core.pretrained import resolve_checkpoint  # the shipped DeCLIP, whatever its version

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
            assert values == NO_ADAPTER and options[0] == NO_ADAPTER and all(ORPHAN in o for o in options[1:])
        comfy_ui.fit_view(editor)
        comfy_ui.screenshot(editor, ARTIFACTS / f"template {name}.png")


def test_queued_quality_workflow_shows_scores_on_the_node(editor: Any, server: ComfyServer) -> None:
    import comfy_ui

    comfy_ui.open_template(editor, "DeCLIP - Score image quality")
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


def test_unusable_checkpoint_is_listed_and_its_error_shown(editor: Any) -> None:
    """A .safetensors without its .json: marked in the DeCLIP Loader's list; choosing it and pressing Run shows
    ComfyUI's error dialog with the reason."""
    import comfy_ui

    comfy_ui.open_template(editor, "DeCLIP - Score image quality")
    options = editor.execute_script(
        "const n = app.graph._nodes.find(n => n.type === 'DeCLIPLoader');"
        "return n.widgets.find(w => w.name === 'declip_name').options.values;")
    marked = [o for o in options if ORPHAN in o]
    assert len(marked) == 1 and marked[0].startswith("⚠ unusable: ") and "my_declip.json beside it" in marked[0]
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
    comfy_ui.close_dialogs(editor)
