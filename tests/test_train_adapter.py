"""Adapter training end to end on tiny random diffusers models: the loss falls, the adapter reloads."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core.adapter import load_adapter
from declip_core.training.adapter.train import TrainConfig, _conditions, train

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "training" / "train_adapter.py"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("captions")
    rng = np.random.default_rng(0)
    lines = []
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(d / f"{i}.png")
        lines.append(json.dumps({"file_name": f"{i}.png", "text": f"a photo of thing {i}",
                                 "perceptual_text": "sharp and bright" if i % 2 else "blurry, noisy"}))
    (d / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return d


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory) -> Path:
    from declip_core.training.adapter.testing import make_tiny_sd

    return make_tiny_sd(tmp_path_factory.mktemp("sd"))


@pytest.fixture(scope="module")
def tiny_sdxl(tmp_path_factory) -> Path:
    from declip_core.training.adapter.testing import make_tiny_sdxl

    return make_tiny_sdxl(tmp_path_factory.mktemp("sdxl"))


def _cfg(model: Path, data: Path, out: Path, **kw) -> TrainConfig:
    base = {"pretrained": str(model), "data": str(data), "output": str(out), "resolution": 32, "batch_size": 4,
            "steps": 25, "lr": 3e-3, "hidden_dim": 32, "overfit_batch": True, "drop_perceptual_prob": 0.0,
            "drop_text_prob": 0.0, "log_every": 5}
    return TrainConfig(**{**base, **kw})


def _check_reload(result, n_perceptual: int) -> None:
    reloaded = load_adapter(result.output)
    assert reloaded.config == result.adapter.config
    p = torch.randn(3, n_perceptual)
    torch.testing.assert_close(reloaded(p).tokens, result.adapter.eval()(p).tokens)
    meta = json.loads(result.output.with_suffix(".json").read_text())["metadata"]
    assert meta["step"] == len(result.losses) and meta["train"]["overfit_batch"] is True


@pytest.mark.slow
def test_loss_falls_on_fixed_batch_sd(tiny_sd, data_dir, tmp_path) -> None:
    from declip_core.testing import tiny_declip

    declip = tiny_declip()
    result = train(_cfg(tiny_sd, data_dir, tmp_path / "a.safetensors"), log=lambda _: None, declip=declip)
    losses = result.losses
    assert len(losses) == 25 and all(np.isfinite(losses))
    assert losses[-1] < 0.995 * losses[0], losses  # fixed noise and timesteps: a deterministic objective
    assert sum(b < a for a, b in itertools.pairwise(losses)) >= 20  # and it falls almost every step
    assert result.adapter.config.context_dim == 32 and result.adapter.config.pooled_dim == 0
    _check_reload(result, declip.perceptual_dim)


@pytest.mark.slow
def test_loss_falls_on_fixed_batch_sdxl_and_pooled_head_learns(tiny_sdxl, data_dir, tmp_path) -> None:
    from declip_core.testing import tiny_declip

    declip = tiny_declip()
    result = train(_cfg(tiny_sdxl, data_dir, tmp_path / "x.safetensors", steps=15, use_semantic=True),
                   log=lambda _: None, declip=declip)
    assert result.losses[-1] < result.losses[0], result.losses
    cfg = result.adapter.config
    assert (cfg.context_dim, cfg.pooled_dim, cfg.semantic_dim) == (64, 32, declip.semantic_dim)
    assert result.adapter.pooled_head is not None and result.adapter.pooled_head.weight.abs().sum() > 0
    reloaded = load_adapter(result.output)
    p, s = torch.randn(2, declip.perceptual_dim), torch.randn(2, declip.semantic_dim)
    torch.testing.assert_close(reloaded(p, s).pooled, result.adapter.eval()(p, s).pooled)


def test_condition_dropout_and_phrase_embeddings(data_dir) -> None:
    from declip_core.testing import tiny_declip
    from declip_core.training.adapter.data import CaptionedImageDataset

    declip = tiny_declip()
    ds = CaptionedImageDataset(data_dir, 32)
    batch = {"image": torch.stack([ds[i]["image"] for i in range(4)]), "text": [ds[i]["text"] for i in range(4)],
             "perceptual_text": [ds[i]["perceptual_text"] for i in range(4)]}
    g = torch.Generator().manual_seed(0)
    cfg = TrainConfig(pretrained="x", data="x", output="x", text_embedding_prob=1.0, drop_perceptual_prob=0.0,
                      drop_text_prob=0.0)
    p, s, caps = _conditions(declip, batch, cfg, True, g, "cpu")
    torch.testing.assert_close(p, declip.embed_perceptual_text(batch["perceptual_text"]))
    assert s is not None and caps == batch["text"]
    dropped = TrainConfig(pretrained="x", data="x", output="x", drop_perceptual_prob=1.0, drop_text_prob=1.0)
    p, s, caps = _conditions(declip, batch, dropped, True, g, "cpu")
    assert torch.count_nonzero(p) == 0 and torch.count_nonzero(s) == 0 and caps == [""] * 4


@pytest.mark.parametrize("bad", [{"drop_text_prob": 1.5}, {"steps": 0}, {"dtype": "float64"}])
def test_train_config_validation(bad: dict) -> None:
    with pytest.raises(ValueError):
        TrainConfig(pretrained="x", data="x", output="x", **bad)


def test_cli_help() -> None:
    r = subprocess.run([sys.executable, str(SCRIPT), "--help"], check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--pretrained" in r.stdout and "--overfit-batch" in r.stdout


@pytest.mark.slow
def test_cli_end_to_end_with_lite_declip(tiny_sd, data_dir, tmp_path, lite_backbone) -> None:
    """`python training/train_adapter.py` with a DeCLIP checkpoint on the lite backbone (random disentangler)."""
    from declip_core.inference import DeCLIP
    from declip_core.model import Disentangler, DisentanglerConfig

    dcfg = DisentanglerConfig(image_in_dim=lite_backbone.info.feature_dim, text_in_dim=lite_backbone.info.text_dim,
                              perceptual_dim=32, semantic_dim=32, hidden=64, depth=1, text_hidden=64, dropout=0.0)
    ckpt = DeCLIP(lite_backbone, Disentangler(dcfg)).save(tmp_path / "declip.safetensors")
    out = tmp_path / "cli_adapter.safetensors"
    r = subprocess.run([sys.executable, str(SCRIPT), "--pretrained", str(tiny_sd), "--data", str(data_dir),
                        "--output", str(out), "--declip", str(ckpt), "--resolution", "32", "--batch-size", "2",
                        "--steps", "3", "--hidden-dim", "16", "--device", "cpu", "--log-every", "1",
                        "--text-embedding-prob", "0.5"],
                       check=False, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    events = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events].count("step") == 3 and events[-1]["event"] == "saved"
    adapter = load_adapter(out)
    assert adapter.config.perceptual_dim == 32 and adapter.config.context_dim == 32
    from declip_core.checkpoint import read_config

    assert adapter.declip_sha256 == read_config(ckpt)["sha256"]  # so embeddings of other DeCLIPs are refused
