"""Write each template's thumbnail (<name>.jpg beside its .json, which ComfyUI's Templates panel shows):
a screenshot of the template opened in the editor, cropped to its nodes.

    python tests/comfy/make_thumbnails.py http://127.0.0.1:8188
The ComfyUI at that address must have this pack linked in (as `custom_nodes/declip`).
"""
from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import comfy_ui
from browser import start_chromium
from PIL import Image

TEMPLATES = Path(__file__).resolve().parents[2] / "comfyui_nodes" / "example_workflows"
SIZE = (640, 400)  # width, height of the thumbnails


def _crop_to_graph(driver, png: bytes) -> Image.Image:
    """The screenshot cut to the nodes' on-screen bounds (canvas coordinates -> CSS pixels -> image pixels)."""
    x0, y0, x1, y1, ratio = driver.execute_script(
        "const c = app.canvas, r = c.canvas.getBoundingClientRect(), b = app.graph._nodes.map(n => n.getBounding());"
        "const p = (x, y) => c.ds.convertOffsetToCanvas([x, y]);"
        "const a = p(Math.min(...b.map(q => q[0])), Math.min(...b.map(q => q[1])));"
        "const z = p(Math.max(...b.map(q => q[0] + q[2])), Math.max(...b.map(q => q[1] + q[3])));"
        "const d = window.devicePixelRatio || 1;"
        "return [r.left + a[0] / d, r.top + a[1] / d, r.left + z[0] / d, r.top + z[1] / d, d];")
    img = Image.open(io.BytesIO(png)).convert("RGB")
    pad = 16
    box = (max(0, int(x0 * ratio) - pad), max(0, int(y0 * ratio) - pad),
           min(img.width, int(x1 * ratio) + pad), min(img.height, int(y1 * ratio) + pad))
    img = img.crop(box)
    img.thumbnail(SIZE, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", SIZE, (32, 32, 32))  # ComfyUI's dark canvas colour around the graph
    canvas.paste(img, ((SIZE[0] - img.width) // 2, (SIZE[1] - img.height) // 2))
    return canvas


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    driver = start_chromium(Path(tempfile.mkdtemp(prefix="declip_chromium_")))
    try:
        driver.set_window_size(2400, 1500)
        comfy_ui.open_editor(driver, argv[0].rstrip("/"))
        driver.execute_script("document.querySelector('.litegraph-minimap, .minimap-main-container')?.remove()")
        for name in comfy_ui.template_names(driver):
            comfy_ui.open_template(driver, name)
            comfy_ui.fit_view(driver)
            out = TEMPLATES / f"{name}.jpg"
            _crop_to_graph(driver, driver.get_screenshot_as_png()).save(out, quality=85)
            print("wrote", out)
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
