"""Turn a UI-format (litegraph) workflow into an API-format graph, as ComfyUI's frontend does.

Needs /object_info to know which inputs are widgets and in which order their values are stored.
"""
from __future__ import annotations

from typing import Any

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
VIRTUAL_NODES = {"Note", "MarkdownNote"}  # frontend-only nodes: never sent to the server


def _is_widget(spec: list[Any]) -> bool:
    return isinstance(spec[0], list) or spec[0] in WIDGET_TYPES


def ui_to_api(ui: dict[str, Any], object_info: dict[str, Any]) -> dict[str, Any]:
    """API graph {id: {class_type, inputs}}; ValueError for unknown node types or widget-count mismatches."""
    links = {link[0]: link for link in ui["links"]}  # id -> [id, src, src_slot, dst, dst_slot, type]
    graph: dict[str, Any] = {}
    for node in ui["nodes"]:
        if node["type"] in VIRTUAL_NODES:
            continue
        info = object_info.get(node["type"])
        if info is None:
            raise ValueError(f"node {node['id']}: type {node['type']!r} is not registered in ComfyUI")
        specs = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
        order = info["input_order"].get("required", []) + info["input_order"].get("optional", [])
        values = list(node.get("widgets_values", []))
        inputs: dict[str, Any] = {}
        for name in order:
            spec = specs[name]
            if not _is_widget(spec):
                continue
            if not values:
                raise ValueError(f"node {node['id']} ({node['type']}): no widget value for {name!r}")
            inputs[name] = values.pop(0)
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            if opts.get("control_after_generate") or opts.get("image_upload"):
                values.pop(0)  # the frontend's extra widget (seed control / upload button)
        if values:
            raise ValueError(f"node {node['id']} ({node['type']}): {len(values)} widget values left over")
        for slot in node.get("inputs", []):
            if slot.get("link") is None:
                continue
            _, src, src_slot, dst, _, _ = links[slot["link"]]
            if dst != node["id"]:
                raise ValueError(f"link {slot['link']} does not end at node {node['id']}")
            inputs[slot["name"]] = [str(src), src_slot]
        graph[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return graph
