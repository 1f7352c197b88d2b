"""Where the pack finds checkpoints: ComfyUI's `models/declip/` via folder_paths, when ComfyUI is there.

Outside ComfyUI (tests, scripts) names are file paths or DeCLIP weight tags.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType

FOLDER_NAME = "declip"
EXTENSION = ".safetensors"
log = logging.getLogger(__name__)


def comfy_folder_paths() -> ModuleType | None:
    """ComfyUI's folder_paths module, or None when not running inside ComfyUI."""
    try:
        import folder_paths
    except ImportError:
        return None
    return folder_paths


def register_model_folder() -> Path | None:
    """Add `<ComfyUI>/models/declip` to ComfyUI's model folders (no-op outside ComfyUI); returns it."""
    fp = comfy_folder_paths()
    if fp is None:
        return None
    folder = Path(fp.models_dir) / FOLDER_NAME
    fp.add_model_folder_path(FOLDER_NAME, str(folder))
    return folder


def list_checkpoints(kind: str) -> list[str]:
    """Names of the checkpoints of a kind ("declip", "dp_adapter") in the declip model folders."""
    from declip_core.checkpoint import read_config

    fp = comfy_folder_paths()
    if fp is None:
        return []
    names = []
    for name in fp.get_filename_list(FOLDER_NAME):
        if not name.endswith(EXTENSION):
            continue
        path = fp.get_full_path(FOLDER_NAME, name)
        try:
            cfg = read_config(path)
        except ValueError as e:
            log.warning("DeCLIP: skipping %s: %s", name, e)
            continue
        if cfg.get("kind") == kind:
            names.append(name)
    return sorted(names)


def resolve(name: str) -> str:
    """A listed name -> its full path inside ComfyUI; else the name itself (a path or weight tag)."""
    if not isinstance(name, str) or not name:
        raise ValueError("expected a checkpoint name")
    fp = comfy_folder_paths()
    if fp is not None and name.endswith(EXTENSION):
        full = fp.get_full_path(FOLDER_NAME, name)
        if full is not None:
            return full
    if os.path.isabs(name) and not os.path.exists(name):
        raise ValueError(f"checkpoint {name} not found")
    return name
