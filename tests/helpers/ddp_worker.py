"""Run by tests under torchrun (gloo, CPU): trains the disentangler on synthetic arrays and writes
its parameters; with world size 1 it is the single-process reference."""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from declip_core.model import DisentanglerConfig  # noqa: E402
from declip_core.training.config import OptimConfig  # noqa: E402
from declip_core.training.disentangler import TrainArrays, train_disentangler  # noqa: E402


def synthetic(n: int = 64, d: int = 12, dt: int = 6, seed: int = 0) -> TrainArrays:
    g = np.random.default_rng(seed)
    pk, sk = g.integers(0, 5, n), g.integers(0, 4, n)
    feats = g.normal(size=(n, d)).astype(np.float32)
    feats[:, 0] += pk
    feats[:, 1] += sk
    pt = g.normal(size=(5, dt)).astype(np.float32)[pk]
    st = g.normal(size=(4, dt)).astype(np.float32)[sk]
    return TrainArrays(feats, pt, st, pk, sk)


def main() -> None:
    out = sys.argv[1]
    if "RANK" in os.environ:
        dist.init_process_group("gloo")
    torch.set_num_threads(1)
    arr = synthetic()
    dcfg = DisentanglerConfig(backbone="synthetic", image_in_dim=12, text_in_dim=6, perceptual_dim=8, semantic_dim=8,
                              hidden=16, depth=1, text_hidden=16, text_depth=1, dropout=0.0)
    # SGD (not Adam) so that a wrongly scaled gradient under DDP would change the result.
    ocfg = OptimConfig(epochs=3, batch_size=16, lr=0.05, warmup_steps=2, optimizer="sgd")
    model = train_disentangler(arr, dcfg, ocfg, out_dir=out + ".run", seed=0, resume=False)
    if not dist.is_initialized() or dist.get_rank() == 0:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
