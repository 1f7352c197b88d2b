"""Drive ComfyUI's editor (frontend 1.35) in a selenium browser the way a user does: search nodes, open
templates from the Templates panel, press Run; and read what the page shows (dialogs, node bounds, widgets).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

PACK_FOLDER = "declip"  # the folder name of the pack in custom_nodes/: the Templates panel lists it so


def wait_for(driver: Any, script: str, timeout: float = 60.0, what: str = "") -> Any:
    """Poll a JS expression (`return ...`) until it is truthy; TimeoutError naming `what` otherwise."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what or script}")


def open_editor(driver: Any, url: str) -> None:
    """Load the editor and wait until the node definitions are registered (pack's included)."""
    driver.get(url + "/")
    wait_for(driver, "return !!(window.app && window.app.graph && window.LiteGraph && "
                     "window.LiteGraph.registered_node_types['DeCLIPQualityScore'])", 120, "the editor to load")
    end = time.monotonic() + 8.0  # a first start opens the Templates panel a moment later: wait for it, close it
    while time.monotonic() < end and not open_dialogs(driver):
        time.sleep(0.5)
    close_dialogs(driver)


def open_dialogs(driver: Any) -> list[str]:
    """Texts of the dialogs open on the page (PrimeVue dialogs, the frontend's only kind), first 300 chars each."""
    return driver.execute_script(
        "return [...document.querySelectorAll('.p-dialog')].filter(d => d.offsetParent !== null)"
        ".map(d => d.innerText.slice(0, 300))")


def error_toasts(driver: Any) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('.p-toast-message-error, .p-toast-message-warn')]"
        ".map(t => t.innerText.slice(0, 300))")


def close_dialogs(driver: Any) -> None:
    """Close open dialogs (e.g. the Templates panel a first start shows) with Escape."""
    for _ in range(3):
        if not open_dialogs(driver):
            return
        ActionChains(driver).send_keys(Keys.ESCAPE).perform()
        time.sleep(0.5)


SEARCH_BOX = "return document.querySelector('.comfy-vue-node-search-container input')"


def search_nodes(driver: Any, query: str, tries: int = 3) -> list[str]:
    """On an emptied canvas: double-click, type `query` in the node search box, return the result labels.

    Retried when the box does not open (a late first-start dialog can swallow the double-click).
    """
    for attempt in range(tries):
        close_dialogs(driver)
        driver.execute_script("app.graph.clear(); app.canvas.setDirty(true, true);")
        canvas = driver.find_element(By.ID, "graph-canvas")
        ActionChains(driver).move_to_element_with_offset(canvas, 0, 0).double_click().perform()
        try:
            box = wait_for(driver, SEARCH_BOX, 10, "the node search box")
            break
        except TimeoutError:
            if attempt == tries - 1:
                raise
            time.sleep(2.0)
    box.send_keys(query)
    time.sleep(1.5)
    return driver.execute_script(
        "return [...document.querySelectorAll('.p-autocomplete-option, [role=option]')]"
        ".map(o => o.innerText.split('\\n')[0].trim()).filter(t => t)")


def template_names(driver: Any) -> list[str]:
    return list(driver.execute_script(
        "return fetch('/api/workflow_templates').then(r => r.json())").get(PACK_FOLDER, []))


def open_template(driver: Any, name: str) -> None:
    """Templates panel -> the pack's category -> the card titled `name`; waits until the panel has closed."""
    close_dialogs(driver)
    driver.find_element(By.XPATH, "//*[normalize-space(text())='Templates']").click()
    category = wait_for(driver, f"return [...document.querySelectorAll('span')].find(s => s.textContent.trim() === "
                                f"{json.dumps(PACK_FOLDER)})", 30, "the pack's template category")
    category.click()
    card = wait_for(driver, f"return [...document.querySelectorAll('h3')].find(h => h.textContent.trim() === "
                            f"{json.dumps(name)})", 30, f"the template card {name!r}")
    card.click()
    wait_for(driver, "return !document.querySelector('.p-dialog')", 30, "the Templates panel to close")
    time.sleep(1.5)


def thumbnail_loaded(driver: Any, name: str) -> bool:
    """Whether the template's thumbnail image (<name>.jpg beside its .json) loads (checked by a fetch)."""
    return bool(driver.execute_script(
        "return fetch(arguments[0]).then(r => r.ok && r.headers.get('content-type').startsWith('image/'))",
        f"/api/workflow_templates/{PACK_FOLDER}/{name}.jpg"))


def graph_nodes(driver: Any) -> list[dict[str, Any]]:
    """id, type, title and on-canvas bounds [x, y, w, h] (title bar included) of every node in the graph."""
    return driver.execute_script(
        "return app.graph._nodes.map(n => ({id: n.id, type: n.type, title: n.title, "
        "bounds: Array.from(n.getBounding()), widgets: (n.widgets || []).map(w => [w.name, String(w.value)])}))")


def overlaps(nodes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of node titles whose bounds intersect."""
    out = []
    for i, a in enumerate(nodes):
        ax, ay, aw, ah = a["bounds"]
        for b in nodes[i + 1:]:
            bx, by, bw, bh = b["bounds"]
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                out.append((a["title"], b["title"]))
    return out


def link_colours(driver: Any, types: list[str]) -> dict[str, str | None]:
    return driver.execute_script(
        "return Object.fromEntries(arguments[0].map(t => [t, LGraphCanvas.link_type_colors[t] || null]))", types)


def fit_view(driver: Any) -> None:
    """Zoom the canvas so that the whole graph is visible (for screenshots)."""
    driver.execute_script("const c = app.canvas; if (c.ds && c.ds.fitToBounds) {"
                          "  const b = app.graph._nodes.map(n => n.getBounding());"
                          "  const x0 = Math.min(...b.map(r => r[0])), y0 = Math.min(...b.map(r => r[1]));"
                          "  const x1 = Math.max(...b.map(r => r[0] + r[2])), y1 = Math.max(...b.map(r => r[1] + r[3]));"
                          "  c.ds.fitToBounds([x0 - 20, y0 - 20, x1 - x0 + 40, y1 - y0 + 40]); }"
                          "c.setDirty(true, true);")
    time.sleep(1.0)


def press_run(driver: Any) -> None:
    """Click the editor's Run button (queues the current workflow)."""
    button = wait_for(driver, "return [...document.querySelectorAll('button')].find(b => "
                              "b.innerText.trim() === 'Run' || b.getAttribute('aria-label') === 'Run')", 20,
                      "the Run button")
    button.click()


def node_text(driver: Any, node_type: str, widget: str = "declip_scores") -> list[str]:
    """The values of `widget` on every node of a type (the text box web/declip.js fills)."""
    return driver.execute_script(
        "return app.graph._nodes.filter(n => n.type === arguments[0]).map(n => { const w = (n.widgets || [])"
        ".find(w => w.name === arguments[1]); return w ? String(w.value ?? '') : null; })", node_type, widget)


def screenshot(driver: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


def add_node(driver: Any, node_type: str, pos: tuple[float, float], widgets: dict[str, Any] | None = None) -> int:
    """Add a node as the node search does (LiteGraph.createNode + graph.add), set widget values; its id."""
    return driver.execute_script(
        "const n = LiteGraph.createNode(arguments[0]); n.pos = arguments[1]; app.graph.add(n);"
        "for (const [k, v] of Object.entries(arguments[2])) { const w = n.widgets.find(w => w.name === k);"
        "  if (!w) throw new Error('no widget ' + k); w.value = v; w.callback?.(v); }"
        "app.canvas.setDirty(true, true); return n.id;", node_type, list(pos), widgets or {})


def connect(driver: Any, src: int, output: str, dst: int, input_name: str) -> None:
    """Link output `output` of node `src` to input `input_name` of node `dst` (by names, as dragging does)."""
    driver.execute_script(
        "const a = app.graph.getNodeById(arguments[0]), b = app.graph.getNodeById(arguments[2]);"
        "const o = a.outputs.findIndex(s => s.name === arguments[1]), i = b.inputs.findIndex(s => s.name === arguments[3]);"
        "if (o < 0 || i < 0) throw new Error('no slot ' + arguments[1] + ' / ' + arguments[3]);"
        "a.connect(o, b, i);", src, output, dst, input_name)


def set_widget(driver: Any, node_id: int, name: str, value: Any) -> None:
    driver.execute_script(
        "const n = app.graph.getNodeById(arguments[0]); const w = n.widgets.find(w => w.name === arguments[1]);"
        "if (!w) throw new Error('no widget ' + arguments[1]); w.value = arguments[2]; w.callback?.(w.value);",
        node_id, name, value)


def node_ids(driver: Any, node_type: str) -> list[int]:
    return driver.execute_script("return app.graph._nodes.filter(n => n.type === arguments[0]).map(n => n.id)",
                                 node_type)


def text_box(driver: Any, node_id: int) -> dict[str, Any]:
    """The score text box of a node as drawn: its text, whether it is shown, whether all of it fits (no hidden
    lines or columns), the node's size, and whether the box lies inside the node on screen."""
    return driver.execute_script(
        "const n = app.graph.getNodeById(arguments[0]); const w = (n.widgets || []).find(w => w.name === 'declip_scores');"
        "const el = w?.element; if (!el) return null; const r = el.getBoundingClientRect();"
        "const c = app.canvas.ds; const [x, y] = [n.pos[0], n.pos[1]];"
        "const cv = app.canvas.canvas.getBoundingClientRect();"
        "const nx = cv.left + (x + c.offset[0]) * c.scale, ny = cv.top + (y + c.offset[1]) * c.scale;"
        "return {text: el.value, shown: el.offsetParent !== null && r.height > 0,"
        " fits: el.scrollHeight <= el.clientHeight + 1 && el.scrollWidth <= el.clientWidth + 1,"
        " scrollHeight: el.scrollHeight, clientHeight: el.clientHeight, size: Array.from(n.size),"
        " inside: r.left >= nx - 2 && r.right <= nx + n.size[0] * c.scale + 2 && r.bottom <= ny + n.size[1] * c.scale + 2};",
        node_id)


def reset_view(driver: Any, node_id: int) -> None:
    """Zoom 1 with the node near the top left (DOM widgets hide when zoomed far out)."""
    driver.execute_script("const n = app.graph.getNodeById(arguments[0]); const c = app.canvas.ds; c.scale = 1;"
                          "c.offset = [-n.pos[0] + 140, -n.pos[1] + 120]; app.canvas.setDirty(true, true);", node_id)
    time.sleep(1.0)


def wait_text(driver: Any, node_id: int, needle: str, timeout: float = 300) -> str:
    """Wait until the node's score text contains `needle` (raises if an error dialog opens); returns the text."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        t = driver.execute_script(
            "const n = app.graph.getNodeById(arguments[0]); const w = (n.widgets || []).find(w => "
            "w.name === 'declip_scores'); return w ? String(w.value || '') : ''", node_id)
        if needle in t:
            return t
        dialogs = open_dialogs(driver)
        if dialogs:
            raise RuntimeError(f"an error dialog instead of {needle!r}: {dialogs}")
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {needle!r} on node {node_id}")


def browser_warnings(driver: Any) -> list[str]:
    """Console warnings and errors the page logged since the last call (Chromium's browser log)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") in ("WARNING", "SEVERE")]
