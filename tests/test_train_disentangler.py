import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from declip_core.model import DisentanglerConfig
from declip_core.training.config import OptimConfig
from declip_core.training.disentangler import TrainArrays, train_disentangler

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from ddp_worker import synthetic  # noqa: E402

DCFG = DisentanglerConfig(backbone="synthetic", image_in_dim=12, text_in_dim=6, perceptual_dim=8, semantic_dim=8,
                          hidden=16, depth=1, text_hidden=16, text_depth=1, dropout=0.1)


def test_loss_falls_and_metrics_logged(tmp_path):
    arr = synthetic(n=128)
    m = train_disentangler(arr, DCFG, OptimConfig(epochs=8, batch_size=32, lr=3e-3, warmup_steps=2), tmp_path)
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    import json

    recs = [json.loads(x) for x in lines]
    assert len(recs) == 8 and recs[-1]["loss"] < recs[0]["loss"] * 0.8
    assert not m.training


def test_resume_matches_uninterrupted(tmp_path):
    arr = synthetic(n=96)
    ocfg = OptimConfig(epochs=4, batch_size=32, lr=3e-3, warmup_steps=2)
    full = train_disentangler(arr, DCFG, ocfg, tmp_path / "a")
    train_disentangler(arr, DCFG, ocfg, tmp_path / "b", stop_after_epoch=2)
    resumed = train_disentangler(arr, DCFG, ocfg, tmp_path / "b")
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), k


def test_bad_arrays_rejected():
    a = synthetic(n=8)
    with pytest.raises(ValueError, match="rows"):
        TrainArrays(a.feats, a.perc_text[:3], a.sem_text, a.perc_keys, a.sem_keys)


@pytest.mark.slow
def test_two_process_gloo_matches_one_process(tmp_path):
    worker = Path(__file__).parent / "helpers" / "ddp_worker.py"
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    subprocess.run([sys.executable, str(worker), str(one)], check=True, timeout=300)
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531",
                    str(worker), str(two)], check=True, timeout=300)
    a, b = load_file(str(one)), load_file(str(two))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), (k, float((a[k] - b[k]).abs().max()))
    assert not torch.equal(a["perceptual.out.weight"], torch.zeros_like(a["perceptual.out.weight"]))
