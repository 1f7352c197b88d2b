"""Write the pack's example workflows: UI format into comfyui_nodes/example_workflows/ (the templates ComfyUI
lists), API format into tests/fixtures/comfy_workflows/ (what the integration tests queue).

The graphs are data here (nodes, widget values, links, a column layout); node sizes are estimated from
ComfyUI's /object_info and the columns are stacked without overlaps (the browser test checks the real
bounds). Run against a ComfyUI with the pack loaded:
    python tests/comfy/build_workflows.py http://127.0.0.1:8188      (or a saved object_info .json)
"""
from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ui_to_api import VIRTUAL_NODES, ui_to_api

REPO = Path(__file__).resolve().parents[2]
UI_DIR = REPO / "comfyui_nodes" / "example_workflows"
API_DIR = REPO / "tests" / "fixtures" / "comfy_workflows"
SD_CHECKPOINT = "v1-5-pruned-emaonly.safetensors"  # ComfyUI's usual example name; the user picks their own
NO_ADAPTER = "(none in models/declip/: train one with training/train_adapter.py)"
GAP, COL_GAP, MARGIN = 40, 60, 40


@dataclass
class N:
    """One node: its key in the graph, type, widget values by name, column and width."""

    key: str
    type: str
    widgets: dict[str, Any] = field(default_factory=dict)
    col: int = 0
    width: int = 340
    title: str | None = None
    text: str | None = None  # for notes
    height: int | None = None


@dataclass
class Workflow:
    name: str  # the file name = the title ComfyUI shows
    slug: str  # the API fixture's name
    nodes: list[N]
    links: list[tuple[str, str, str, str]]  # (src key, output name, dst key, input name)


PROMPT = "a lighthouse on a rocky coast at sunset, photograph"
NEGATIVE = "text, watermark"
NEEDS_ADAPTER = ("## Needs a DP-Adapter trained for YOUR diffusion model\n\n"
                 "No DP-Adapter ships with DeCLIP. Train one for your checkpoint (SD1.5 or SDXL) and the DeCLIP "
                 "model you use with `python training/train_adapter.py` (see docs/generation.md), put the "
                 "`.safetensors` **and its `.json`** in `ComfyUI/models/declip/`, press R, and choose it in "
                 "**DeCLIP DP-Adapter Loader**. Pick your SD checkpoint in **Load Checkpoint**.\n\n"
                 "Without an adapter, use the template *DeCLIP - Best of N (needs an SD checkpoint)*.")


def _sampling(col: int, batch: int = 1) -> list[N]:
    return [
        N("ckpt", "CheckpointLoaderSimple", {"ckpt_name": SD_CHECKPOINT}, col=col, title="Load Checkpoint"),
        N("pos", "CLIPTextEncode", {"text": PROMPT}, col=col, title="CLIP Text Encode (Prompt)", width=400),
        N("neg", "CLIPTextEncode", {"text": NEGATIVE}, col=col, title="CLIP Text Encode (Negative)", width=400),
        N("latent", "EmptyLatentImage", {"width": 512, "height": 512, "batch_size": batch}, col=col),
    ]


def _ksampler(col: int, seed: int = 42) -> list[N]:
    return [N("ks", "KSampler", {"seed": seed, "steps": 20, "cfg": 7.0, "sampler_name": "euler",
                                 "scheduler": "normal", "denoise": 1.0}, col=col),
            N("dec", "VAEDecode", {}, col=col)]


SAMPLING_LINKS = [("ckpt", "CLIP", "pos", "clip"), ("ckpt", "CLIP", "neg", "clip"), ("ckpt", "MODEL", "ks", "model"),
                  ("neg", "CONDITIONING", "ks", "negative"), ("latent", "LATENT", "ks", "latent_image"),
                  ("ks", "LATENT", "dec", "samples"), ("ckpt", "VAE", "dec", "vae")]

WORKFLOWS = [
    Workflow("DeCLIP - Score image quality (runs as is)", "quality_score", [
        N("note", "MarkdownNote", col=0, width=340, height=220, title="About this template",
          text="## DeCLIP image quality\n\nRuns on a fresh install with the shipped **lite** model. Load your own "
               "image in **Load Image** and press Run: every image's score (0 worst .. 1 best) appears on the "
               "score node. *tech* = technical quality (sharpness, noise, exposure, compression), *aes* = "
               "aesthetic quality; the default head is the same as pyiqa's `declip_tech` / `declip_aes`."),
        N("img", "LoadImage", {"image": "example.png"}, col=0, width=340),
        N("declip", "DeCLIPLoader", {"declip_name": "lite"}, col=1),
        N("tech", "DeCLIPQualityScore", {"metric": "tech", "head": "default"}, col=1, width=420),
        N("aes", "DeCLIPQualityScore", {"metric": "aes", "head": "default"}, col=1, width=420),
    ], [("img", "IMAGE", "tech", "image"), ("declip", "declip", "tech", "declip"),
        ("img", "IMAGE", "aes", "image"), ("declip", "declip", "aes", "declip")]),
    Workflow("DeCLIP - Best of N (needs an SD checkpoint)", "best_of_n", [
        N("note", "MarkdownNote", col=0, width=400, height=200, title="About this template",
          text="## Best of N, no adapter needed\n\nPick any SD1.5 / SDXL checkpoint in **Load Checkpoint**. "
               "**Empty Latent Image** `batch_size` is N (4 here). **DeCLIP Best of N** scores each sample with "
               "DeCLIP (shipped **lite** model) and keeps the best `k`; their scores show on the node."),
        *_sampling(0, batch=4), *_ksampler(1),
        N("declip", "DeCLIPLoader", {"declip_name": "lite"}, col=1),
        N("best", "DeCLIPBestOfN", {"metric": "tech", "head": "default", "k": 1}, col=2, width=420),
        N("save", "SaveImage", {"filename_prefix": "DeCLIP_best"}, col=3, width=360),
        N("all", "PreviewImage", {}, col=3, width=360, title="All samples"),
    ], [*SAMPLING_LINKS, ("pos", "CONDITIONING", "ks", "positive"), ("dec", "IMAGE", "best", "images"),
        ("declip", "declip", "best", "declip"), ("best", "images", "save", "images"), ("dec", "IMAGE", "all", "images")]),
    Workflow("DeCLIP - Phrase look (needs an SD checkpoint and a DP-Adapter)", "perceptual_phrase", [
        N("note", "MarkdownNote", col=0, width=400, height=260, title="Read me first", text=NEEDS_ADAPTER),
        *_sampling(0),
        N("declip", "DeCLIPLoader", {"declip_name": "lite"}, col=1),
        N("phrase", "DeCLIPPhraseEncode", {"phrase": "crisp, clean, well exposed"}, col=1),
        N("adapter", "DPAdapterLoader", {"adapter_name": NO_ADAPTER}, col=1, width=460),
        N("apply", "DPAdapterApply", {"strength": 1.0}, col=1),
        *_ksampler(2),
        N("save", "SaveImage", {"filename_prefix": "DeCLIP_phrase"}, col=3, width=360),
    ], [*SAMPLING_LINKS, ("declip", "declip", "phrase", "declip"), ("pos", "CONDITIONING", "apply", "conditioning"),
        ("adapter", "dp_adapter", "apply", "dp_adapter"), ("phrase", "perceptual", "apply", "perceptual"),
        ("apply", "CONDITIONING", "ks", "positive"), ("dec", "IMAGE", "save", "images")]),
    Workflow("DeCLIP - Copy a look (needs an SD checkpoint and a DP-Adapter)", "perceptual_reference", [
        N("note", "MarkdownNote", col=0, width=400, height=260, title="Read me first", text=NEEDS_ADAPTER),
        *_sampling(0),
        N("ref", "LoadImage", {"image": "example.png"}, col=1, title="Reference image (its look is copied)"),
        N("declip", "DeCLIPLoader", {"declip_name": "lite"}, col=1),
        N("enc", "DeCLIPImageEncode", {}, col=1),
        N("adapter", "DPAdapterLoader", {"adapter_name": NO_ADAPTER}, col=2, width=460),
        N("apply", "DPAdapterApply", {"strength": 1.0}, col=2),
        *_ksampler(2),
        N("save", "SaveImage", {"filename_prefix": "DeCLIP_reference"}, col=3, width=360),
        N("score", "DeCLIPQualityScore", {"metric": "tech", "head": "default"}, col=3, width=420),
    ], [*SAMPLING_LINKS, ("ref", "IMAGE", "enc", "image"), ("declip", "declip", "enc", "declip"),
        ("pos", "CONDITIONING", "apply", "conditioning"), ("adapter", "dp_adapter", "apply", "dp_adapter"),
        ("enc", "perceptual", "apply", "perceptual"), ("apply", "CONDITIONING", "ks", "positive"),
        ("dec", "IMAGE", "save", "images"), ("dec", "IMAGE", "score", "image"), ("declip", "declip", "score", "declip")]),
    Workflow("DeCLIP - Redo the bad region (needs an SD checkpoint)", "redo_bad_region", [
        N("note", "MarkdownNote", col=0, width=400, height=260, title="About this template",
          text="## Redo only where the image is bad\n\n**DeCLIP Quality Score** (tech) gives a `quality_mask`: 1 where "
               "the image is bad, from DeCLIP's 7 x 7 quality map. **Threshold Mask** keeps the worst regions, "
               "**VAE Encode (for Inpainting)** masks them, and the sampler redraws only those. Load your image in "
               "**Load Image**, describe it in the prompt, and pick an SD checkpoint (an inpainting one works best) "
               "in **Load Checkpoint**. The second score node scores the result. No adapter needed."),
        N("img", "LoadImage", {"image": "example.png"}, col=0, width=400),
        N("ckpt", "CheckpointLoaderSimple", {"ckpt_name": SD_CHECKPOINT}, col=1, title="Load Checkpoint"),
        N("pos", "CLIPTextEncode", {"text": "a cat, sharp photograph"}, col=1, title="CLIP Text Encode (Prompt)",
          width=400),
        N("neg", "CLIPTextEncode", {"text": "blurry, noisy"}, col=1, title="CLIP Text Encode (Negative)", width=400),
        N("declip", "DeCLIPLoader", {"declip_name": "lite"}, col=1),
        N("score", "DeCLIPQualityScore", {"metric": "tech", "head": "default"}, col=2, width=420,
          title="DeCLIP Quality Score (before)"),
        N("thr", "ThresholdMask", {"value": 0.5}, col=2),
        N("enc", "VAEEncodeForInpaint", {"grow_mask_by": 16}, col=2),
        N("ks", "KSampler", {"seed": 42, "steps": 20, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
                             "denoise": 1.0}, col=3),
        N("dec", "VAEDecode", {}, col=3),
        N("save", "SaveImage", {"filename_prefix": "DeCLIP_redone"}, col=4, width=360),
        N("after", "DeCLIPQualityScore", {"metric": "tech", "head": "default"}, col=4, width=420,
          title="DeCLIP Quality Score (after)"),
    ], [("img", "IMAGE", "score", "image"), ("declip", "declip", "score", "declip"),
        ("score", "quality_mask", "thr", "mask"), ("img", "IMAGE", "enc", "pixels"), ("ckpt", "VAE", "enc", "vae"),
        ("thr", "MASK", "enc", "mask"), ("ckpt", "CLIP", "pos", "clip"), ("ckpt", "CLIP", "neg", "clip"),
        ("ckpt", "MODEL", "ks", "model"), ("pos", "CONDITIONING", "ks", "positive"),
        ("neg", "CONDITIONING", "ks", "negative"), ("enc", "LATENT", "ks", "latent_image"),
        ("ks", "LATENT", "dec", "samples"), ("ckpt", "VAE", "dec", "vae"), ("dec", "IMAGE", "save", "images"),
        ("dec", "IMAGE", "after", "image"), ("declip", "declip", "after", "declip")]),
]

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
IMAGE_NODES = {"LoadImage", "SaveImage", "PreviewImage"}
SCORE_NODES = {"DeCLIPQualityScore", "DeCLIPBestOfN", "DeCLIPQualityFilter"}


def _specs(info: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    specs = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
    order = info["input_order"].get("required", []) + info["input_order"].get("optional", [])
    return [(name, specs[name]) for name in order]


def _is_widget(spec: list[Any]) -> bool:
    return isinstance(spec[0], list) or spec[0] in WIDGET_TYPES


def _height(node: N, info: dict[str, Any] | None) -> int:
    """A generous estimate of the node's body height (the frontend adds the title bar above pos)."""
    if node.height is not None:
        return node.height
    specs = _specs(info)
    n_widgets = sum(_is_widget(s) for _, s in specs)
    extra = sum(1 for _, s in specs if len(s) > 1 and isinstance(s[1], dict)
                and (s[1].get("control_after_generate") or s[1].get("image_upload")))
    multiline = sum(1 for _, s in specs if len(s) > 1 and isinstance(s[1], dict) and s[1].get("multiline"))
    slots = max(sum(not _is_widget(s) for _, s in specs), len(info["output"]))
    h = 30 + 24 * slots + 28 * (n_widgets + extra) + 90 * multiline
    if node.type in IMAGE_NODES:
        h += 300
    if node.type in SCORE_NODES:
        h += 150  # the score text box added by web/declip.js
    return h


def build_ui(wf: Workflow, object_info: dict[str, Any]) -> dict[str, Any]:
    """The UI-format (litegraph 0.4) workflow, laid out in columns without overlaps."""
    ids = {n.key: i + 1 for i, n in enumerate(wf.nodes)}
    infos = {n.key: object_info.get(n.type) for n in wf.nodes}
    for n in wf.nodes:
        if infos[n.key] is None and n.type not in VIRTUAL_NODES:
            raise ValueError(f"{wf.name}: node type {n.type} is not in /object_info (is the pack loaded?)")
    col_width = {c: max(n.width for n in wf.nodes if n.col == c) for c in {n.col for n in wf.nodes}}
    x, col_x = MARGIN, {}
    for c in sorted(col_width):
        col_x[c] = x
        x += col_width[c] + COL_GAP
    y_cursor = dict.fromkeys(col_width, MARGIN + 30)
    ui_nodes = []
    for n in wf.nodes:
        info, h = infos[n.key], _height(n, infos[n.key])
        node: dict[str, Any] = {"id": ids[n.key], "type": n.type, "pos": [col_x[n.col], y_cursor[n.col]],
                                "size": [n.width, h], "flags": {}, "order": 0, "mode": 0, "inputs": [], "outputs": [],
                                "properties": {"Node name for S&R": n.type}}
        y_cursor[n.col] += h + 30 + GAP  # 30: the title bar, drawn above pos
        if info is None:  # a note: text only
            node["widgets_values"] = [n.text or ""]
            node["color"], node["bgcolor"] = "#432", "#653"
        else:
            values = []
            for name, spec in _specs(info):
                if _is_widget(spec):
                    if name not in n.widgets:
                        default = spec[1].get("default") if len(spec) > 1 and isinstance(spec[1], dict) else None
                        if default is None:
                            raise ValueError(f"{wf.name}: {n.type}.{name} needs a value")
                        n.widgets[name] = default
                    values.append(n.widgets[name])
                    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                    if opts.get("control_after_generate"):
                        values.append("fixed")
                    if opts.get("image_upload"):
                        values.append("image")
                else:
                    node["inputs"].append({"name": name, "type": spec[0], "link": None})
            node["outputs"] = [{"name": nm, "type": t, "links": [], "slot_index": i}
                               for i, (nm, t) in enumerate(zip(info["output_name"], info["output"]))]
            node["widgets_values"] = values
        node["title"] = n.title or (info["display_name"] if info else "Note")
        ui_nodes.append(node)
    by_id = {nd["id"]: nd for nd in ui_nodes}
    links = []
    for link_id, (src, out_name, dst, in_name) in enumerate(wf.links, start=1):
        s, d = by_id[ids[src]], by_id[ids[dst]]
        s_slot = next(i for i, o in enumerate(s["outputs"]) if o["name"] == out_name)
        d_slot = next(i for i, p in enumerate(d["inputs"]) if p["name"] == in_name)
        if d["inputs"][d_slot]["link"] is not None:
            raise ValueError(f"{wf.name}: {dst}.{in_name} linked twice")
        typ = s["outputs"][s_slot]["type"]
        s["outputs"][s_slot]["links"].append(link_id)
        d["inputs"][d_slot]["link"] = link_id
        links.append([link_id, s["id"], s_slot, d["id"], d_slot, typ])
    _set_order(ui_nodes, links)
    return {"last_node_id": len(ui_nodes), "last_link_id": len(links), "nodes": ui_nodes, "links": links,
            "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}


def _set_order(nodes: list[dict[str, Any]], links: list[list[Any]]) -> None:
    """litegraph's execution `order`: a topological order of the links."""
    deps = {n["id"]: {lk[1] for lk in links if lk[3] == n["id"]} for n in nodes}
    order, done = 0, set()
    while len(done) < len(nodes):
        ready = sorted(i for i, d in deps.items() if i not in done and d <= done)
        for i in ready:
            next(n for n in nodes if n["id"] == i)["order"] = order
            order += 1
            done.add(i)


def load_object_info(source: str) -> dict[str, Any]:
    if source.startswith("http"):
        with urllib.request.urlopen(source.rstrip("/") + "/object_info", timeout=60) as r:
            return json.loads(r.read())
    return json.loads(Path(source).read_text())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    info = load_object_info(argv[0])
    UI_DIR.mkdir(exist_ok=True)
    API_DIR.mkdir(parents=True, exist_ok=True)
    for wf in WORKFLOWS:
        ui = build_ui(wf, info)
        (UI_DIR / f"{wf.name}.json").write_text(json.dumps(ui, indent=1) + "\n")
        api = ui_to_api(ui, info)
        (API_DIR / f"{wf.slug}_api.json").write_text(json.dumps(api, indent=1) + "\n")
        print(f"wrote {wf.name}.json and {wf.slug}_api.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
