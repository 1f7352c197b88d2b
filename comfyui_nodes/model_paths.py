"""Where the pack finds checkpoints: ComfyUI's `models/declip/` via folder_paths, when ComfyUI is there.

Outside ComfyUI (tests, scripts) names are file paths or DeCLIP weight tags. A `.safetensors` in the
folder whose `.json` config is missing or broken is listed once, marked unusable, in the list of the kind its
tensor names suggest (the DeCLIP Loader's when they say nothing); choosing it raises the reason. Each such
file is logged once. Messages name files relative to the models folder (`models/declip/x.safetensors`),
never by the server's absolute path.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import struct
from pathlib import Path
from types import ModuleType
from typing import Any

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


def unusable_label(name: str) -> str:
    """The dropdown entry of a file that cannot be loaded, e.g. '⚠ unusable: x.safetensors (choose it for the reason)'."""
    return f"{UNUSABLE}{name} {REASON_HINT}"


REASON_HINT = "(choose it for the reason)"


def display_name(name: str) -> str:
    """A dropdown entry as messages name it: 'models/declip/x.safetensors' for a file of the folder, else as is."""
    if name.startswith(UNUSABLE):
        name = name[len(UNUSABLE):].removesuffix(" " + REASON_HINT)
    if name.endswith(EXTENSION) and not os.path.isabs(name):
        return f"models/{FOLDER_NAME}/{name}"
    return name


def relative_error(error: Exception | str) -> str:
    """An error message with every absolute path inside the declip model folders written as 'models/declip/...'."""
    text = str(error)
    fp = comfy_folder_paths()
    if fp is None:
        return text
    for folder in _folders(fp):
        text = text.replace(folder.rstrip(os.sep) + os.sep, f"models/{FOLDER_NAME}/")
        text = text.replace(folder, f"models/{FOLDER_NAME}")
    return text


def _folders(fp: ModuleType) -> list[str]:
    """The declip model folders ComfyUI knows (longest first, so that nested folders are replaced first)."""
    try:
        folders = list(fp.get_folder_paths(FOLDER_NAME))
    except (AttributeError, KeyError):
        folders = list(getattr(fp, "folder_names_and_paths", {}).get(FOLDER_NAME, ([], set()))[0])
    return sorted({str(f) for f in folders}, key=len, reverse=True)


def _reason(name: str, path: str, error: ValueError) -> str:
    js = Path(path).with_suffix(".json")
    if not js.is_file():
        return f"no {js.name} beside it: copy the .json that came with the checkpoint"
    return f"broken {js.name} ({relative_error(error)}): copy the .json that came with the checkpoint again"


def guess_kind(path: str | Path) -> str | None:
    """The checkpoint kind a .safetensors file's tensor names suggest (read from its header only), or None."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(min(n, 64 << 20)))
    except (OSError, struct.error, ValueError):
        return None
    if not isinstance(header, dict):
        return None
    tops = {k.split(".")[0] for k in header if k != "__metadata__"}
    if "head" in tops or "attr" in tops:
        return "iqa_head"
    if "perceptual" in tops and "semantic" in tops:
        return "declip"
    if "proj" in tops:
        return "dp_adapter"
    return None


def _scan(fp: ModuleType) -> list[tuple[str, str, dict[str, Any] | None, str | None]]:
    """(name, full path, config or None, reason when unusable) of every .safetensors in the declip folders."""
    from declip_core.checkpoint import read_config

    out = []
    for name in fp.get_filename_list(FOLDER_NAME):
        if not name.endswith(EXTENSION):
            continue
        path = fp.get_full_path(FOLDER_NAME, name)
        try:
            out.append((name, path, read_config(path), None))
        except ValueError as e:
            out.append((name, path, None, _reason(name, path, e)))
    return out


def checkpoint_configs(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, config) of the usable checkpoints of a kind in the declip model folders, sorted; [] outside ComfyUI."""
    fp = comfy_folder_paths()
    if fp is None:
        return []
    return sorted((name, cfg) for name, _, cfg, _ in _scan(fp) if cfg is not None and cfg.get("kind") == kind)


def unusable_reason(name: str) -> str | None:
    """Why a file of the declip folders (its name or its dropdown entry) cannot be loaded; None if it can."""
    fp = comfy_folder_paths()
    if fp is None:
        return None
    plain = name[len(UNUSABLE):].removesuffix(" " + REASON_HINT) if name.startswith(UNUSABLE) else name
    for n, _, cfg, reason in _scan(fp):
        if n == plain and cfg is None:
            return reason
    return None


def list_checkpoints(kind: str) -> list[str]:
    """Names of the checkpoints of a kind ("declip", "dp_adapter", "iqa_head") in the declip model folders.

    Usable files of the kind come first (sorted), then unusable files as `unusable_label` entries: each in one
    list only, the kind its tensor names suggest (`guess_kind`; the DeCLIP list when unknown). Empty outside
    ComfyUI.
    """
    fp = comfy_folder_paths()
    if fp is None:
        return []
    names, unusable = [], []
    for name, path, cfg, reason in _scan(fp):
        if cfg is not None:
            if cfg.get("kind") == kind:
                names.append(name)
            continue
        _warn_once(display_name(name), os.stat(path).st_mtime_ns, reason)
        if (guess_kind(path) or "declip") == kind:
            unusable.append(unusable_label(name))
    return sorted(names) + sorted(unusable)


def resolve(name: str) -> str:
    """A listed name -> its full path inside ComfyUI; else the name itself (a path or weight tag).

    Raises ValueError for an entry marked unusable (naming the file relative to the models folder, and
    the reason) or a missing absolute path.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("expected a checkpoint name")
    if name.startswith(UNUSABLE):
        raise ValueError(f"cannot load {display_name(name)}: {unusable_reason(name) or 'the file is gone'}")
    fp = comfy_folder_paths()
    if fp is not None and name.endswith(EXTENSION):
        full = fp.get_full_path(FOLDER_NAME, name)
        if full is not None:
            return full
    if os.path.isabs(name) and not os.path.exists(name):
        raise ValueError(f"checkpoint {name} not found")
    return name


def declip_names(sha256: str | None) -> list[str]:
    """The DeCLIP checkpoints with this sha256, as a user picks them: files of models/declip/ (by name), then
    weight tags ('lite'). Empty when none is installed or the hash is unknown."""
    from declip_core.checkpoint import read_config
    from declip_core.pretrained import list_pretrained, resolve_checkpoint

    if not sha256:
        return []
    names = [name for name, cfg in checkpoint_configs("declip") if cfg.get("sha256") == sha256]
    for tag in list_pretrained("declip"):
        try:
            if read_config(resolve_checkpoint(tag, kind="declip")).get("sha256") == sha256:
                names.append(tag)
        except ValueError:  # a tag whose weights are not installed here cannot be the one
            continue
    return names
