"""Save and load DP-Adapters in DeCLIP's checkpoint format (safetensors + JSON, kind "dp_adapter")."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from declip_core.adapter.dp_adapter import DPAdapter, DPAdapterConfig
from declip_core.checkpoint import load_checkpoint, save_checkpoint

CHECKPOINT_KIND = "dp_adapter"


def save_adapter(adapter: DPAdapter, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write the adapter's weights and config; `metadata` (JSON-serialisable) records how it was made.

    `adapter.declip_sha256` (the DeCLIP checkpoint it was trained on), when set, is stored as
    `declip_sha256` so that embeddings of another DeCLIP checkpoint can be refused later.
    """
    config: dict[str, Any] = {"kind": CHECKPOINT_KIND, "adapter": adapter.config.to_dict()}
    if adapter.declip_sha256:
        config["declip_sha256"] = adapter.declip_sha256
    if metadata:
        config["metadata"] = dict(metadata)
    return save_checkpoint(path, adapter.state_dict(), config)


def load_adapter(path: str | Path, device: str | torch.device = "cpu") -> DPAdapter:
    """A DPAdapter (eval mode) from a checkpoint; ValueError for another kind or mismatched tensors.

    Its `declip_sha256` is the stored DeCLIP checkpoint hash (None for adapters saved without one).
    """
    tensors, cfg = load_checkpoint(path, kind=CHECKPOINT_KIND)
    if not isinstance(cfg.get("adapter"), dict):
        raise ValueError(f"{path}: checkpoint config has no 'adapter' section")
    adapter = DPAdapter(DPAdapterConfig.from_dict(cfg["adapter"]))
    try:
        adapter.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{path}: tensors do not fit the adapter config: {e}") from e
    sha = cfg.get("declip_sha256")
    adapter.declip_sha256 = str(sha) if sha else None
    return adapter.eval().to(device)


def adapter_metadata(path: str | Path) -> dict[str, Any]:
    """The 'metadata' section stored with an adapter (empty when none), without loading tensors."""
    from declip_core.checkpoint import read_config

    cfg = read_config(path, kind=CHECKPOINT_KIND)
    return dict(cfg.get("metadata", {}))
