"""A checkpoint's .json never chooses a network code path (issue 23, situation 6): a sidecar naming an
open_clip 'hf-hub:' architecture used to make load_declip contact the Hugging Face Hub (open_clip fetches the
config, weights and tokenizer of such a model whatever local file is given) and ignore the local weights."""
from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from declip_core.pretrained import resolve_checkpoint


def test_sidecar_naming_an_hf_hub_architecture_is_refused_offline(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import open_clip

    src = resolve_checkpoint("lite", kind="declip")
    st = tmp_path / "handed.safetensors"
    shutil.copy(src, st)
    cfg = json.loads(src.with_suffix(".json").read_text())
    weights = tmp_path / "open_clip_model.safetensors"
    weights.write_bytes(b"")  # a local weight file the spec points at
    cfg["backbone"]["spec"] = f"openclip:hf-hub:timm/ViT-B-16-SigLIP@{weights}"
    st.with_suffix(".json").write_text(json.dumps(cfg))
    attempts: list[object] = []

    def no_network(*a: object, **k: object) -> None:
        attempts.append(a)
        raise OSError("network used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(open_clip, "create_model_and_transforms", no_network)  # would fetch hf-hub: models
    monkeypatch.setattr(open_clip, "get_tokenizer", no_network)
    from declip_core.inference import load_declip

    with pytest.raises(ValueError, match="fetched from the Hugging Face Hub.*allow_download=True"):
        load_declip(st)
    assert attempts == []


def test_hf_hub_architecture_needs_the_explicit_opt_in() -> None:
    from declip_core.backbones.openclip import resolve_weights

    with pytest.raises(ValueError, match="allow_download=True"):
        resolve_weights("hf-hub:org/model", None, "/nonexistent/w.safetensors")


def test_hf_source_makes_no_network_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hf:<folder>` used to ping a download counter on the Hub (datasets' load_dataset) on every run."""
    datasets = pytest.importorskip("datasets")
    import numpy as np
    from PIL import Image

    from declip_core.scoring.sources import iter_inputs

    for i in range(3):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tmp_path / f"im{i}.png")
    lookups: list[object] = []

    def no_network(*a: object, **k: object) -> None:
        lookups.append(a[:1])
        raise OSError("network used")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)  # as on a machine where nobody set it
    monkeypatch.setattr(datasets.config, "HF_UPDATE_DOWNLOAD_COUNTS", True)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    got = list(iter_inputs([f"hf:{tmp_path}"]))
    assert sorted(Path(p).name for p in got) == ["im0.png", "im1.png", "im2.png"]
    assert lookups == []
