"""Where the pack finds checkpoints: ComfyUI's `models/declip/` via folder_paths, when ComfyUI is there.

Outside ComfyUI (tests, scripts) names are file paths or DeCLIP weight tags. A `.safetensors` in the
folder whose `.json` config is missing or broken stays in the dropdowns, marked unusable (its kind is
unknown, so it is listed by every loader); choosing it raises the reason. Each such file is logged once.
"""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from types import ModuleType

FOLDER_NAME = "declip"
EXTENSION = ".safetensors"
UNUSABLE = "⚠ unusable: "  # prefix of dropdown entries for files that cannot be loaded
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


@functools.cache
def _warn_once(path: str, mtime_ns: int, reason: str) -> None:
    """Log one warning per (file, version, reason): ComfyUI asks for the node lists many times."""
    log.warning("DeCLIP: %s cannot be loaded: %s", path, reason)


def unusable_label(name: str, reason: str) -> str:
    """The dropdown entry of a file that cannot be loaded, e.g. '⚠ unusable: x.safetensors (no x.json beside it)'."""
    return f"{UNUSABLE}{name} ({reason})"


def _reason(path: str, error: ValueError) -> str:
    js = Path(path).with_suffix(".json")
    if not js.is_file():
        return f"no {js.name} beside it: copy the .json that came with the checkpoint"
    return f"broken {js.name}: {error}"


def list_checkpoints(kind: str) -> list[str]:
    """Names of the checkpoints of a kind ("declip", "dp_adapter", "iqa_head") in the declip model folders.

    Usable files of the kind come first (sorted), then unusable files (any kind) as `unusable_label` entries.
    Empty outside ComfyUI.
    """
    from declip_core.checkpoint import read_config

    fp = comfy_folder_paths()
    if fp is None:
        return []
    names, unusable = [], []
    for name in fp.get_filename_list(FOLDER_NAME):
        if not name.endswith(EXTENSION):
            continue
        path = fp.get_full_path(FOLDER_NAME, name)
        try:
            cfg = read_config(path)
        except ValueError as e:
            reason = _reason(path, e)
            _warn_once(str(path), os.stat(path).st_mtime_ns, reason)
            unusable.append(unusable_label(name, reason))
            continue
        if cfg.get("kind") == kind:
            names.append(name)
    return sorted(names) + sorted(unusable)


def resolve(name: str) -> str:
    """A listed name -> its full path inside ComfyUI; else the name itself (a path or weight tag).

    Raises ValueError for an entry marked unusable (with the reason) or a missing absolute path.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("expected a checkpoint name")
    if name.startswith(UNUSABLE):
        raise ValueError(f"cannot load models/{FOLDER_NAME}/{name[len(UNUSABLE):]}")
    fp = comfy_folder_paths()
    if fp is not None and name.endswith(EXTENSION):
        full = fp.get_full_path(FOLDER_NAME, name)
        if full is not None:
            return full
    if os.path.isabs(name) and not os.path.exists(name):
        raise ValueError(f"checkpoint {name} not found")
    return name
