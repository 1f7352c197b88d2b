"""DeCLIP's checkpoint format: `<name>.safetensors` (tensors) + `<name>.json` (config).

The JSON holds the format version, the checkpoint kind ("declip", "iqa_head", "dp_adapter", ...),
the backbone spec and preprocessing, sizes, any metadata, and the sha256 of the safetensors file,
which load_checkpoint verifies. No pickle is ever read.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors.torch import load_file, save_file

from declip_core.hashing import sha256_file

FORMAT_NAME = "declip-checkpoint"
FORMAT_VERSION = 1


def _paths(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix == ".json":
        p = p.with_suffix(".safetensors")
    elif p.suffix != ".safetensors":
        p = p.with_name(p.name + ".safetensors")
    return p, p.with_suffix(".json")


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path: str | Path, tensors: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> Path:
    """Write tensors and config atomically; returns the .safetensors path.

    config must be JSON-serialisable and should carry "kind"; format keys are added here.
    """
    st, js = _paths(path)
    if "kind" not in config:
        raise ValueError("checkpoint config needs a 'kind' (e.g. 'declip', 'iqa_head', 'dp_adapter')")
    clean = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    _atomic_write(st, lambda tmp: save_file(clean, tmp, metadata={"format": FORMAT_NAME}))
    meta = dict(config)
    meta.update(format=FORMAT_NAME, format_version=FORMAT_VERSION, tensors_file=st.name, sha256=sha256_file(st))
    text = json.dumps(meta, indent=2, sort_keys=True)
    _atomic_write(js, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))
    return st


def read_config(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """The JSON config of a checkpoint, without reading the tensors.

    kind: the checkpoint kind expected (None: any). Raises ValueError (missing or invalid config, newer
    format, another kind), naming the file.
    """
    _, js = _paths(path)
    if not js.is_file():
        raise ValueError(f"{js}: checkpoint config not found")
    try:
        cfg = json.loads(js.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{js}: not valid JSON ({e})") from e
    if cfg.get("format") != FORMAT_NAME:
        raise ValueError(f"{js}: not a DeCLIP checkpoint config (format={cfg.get('format')!r})")
    if int(cfg.get("format_version", -1)) > FORMAT_VERSION:
        raise ValueError(f"{js}: format version {cfg['format_version']} is newer than this code ({FORMAT_VERSION})")
    if kind is not None and cfg.get("kind") != kind:
        raise ValueError(f"{path}: checkpoint kind is {cfg.get('kind')!r}, expected {kind!r}")
    return cfg


def load_checkpoint(path: str | Path, kind: str | None = None,
                    verify: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by save_checkpoint.

    Args:
        path: the .safetensors file, its .json sidecar, or the name without suffix.
        kind: the checkpoint kind the caller expects ("declip", "iqa_head", "dp_adapter", ...); None
            accepts any kind.
        verify: check the tensors file against the sha256 recorded in the config.

    Returns:
        (tensors, config): name -> CPU tensor as saved, and the JSON config (with "kind", "sha256", ...).

    Raises:
        ValueError: files missing, config unreadable or of a newer format, sha256 mismatch, or a kind
            other than `kind` (the message names the file, the kind found and the kind expected).
    """
    st, _ = _paths(path)
    cfg = read_config(path, kind=kind)
    if not st.is_file():
        raise ValueError(f"{st}: checkpoint tensors not found")
    if verify:
        digest = sha256_file(st)
        if digest != cfg.get("sha256"):
            raise ValueError(f"{st}: sha256 {digest} does not match the config's {cfg.get('sha256')}; "
                             "the file is corrupt or was replaced")
    return load_file(str(st)), cfg
