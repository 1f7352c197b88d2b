r"""Train a DP-Adapter for a local diffusers SD1.x / SDXL model.

    python training/train_adapter.py --pretrained /models/stable-diffusion-v1-5 \
        --data /data/i2t_folder --output runs/dp_adapter_sd15.safetensors --steps 20000

The UNet, VAE and text encoder(s) are loaded frozen from the folder (never downloaded);
only the adapter trains, with the ordinary denoising loss. See docs/generation.md.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import fields

import torch

from declip_core.training.adapter.train import TrainConfig, TrainResult, stderr_log, train


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags; one per TrainConfig field."""
    d = {f.name: f.default for f in fields(TrainConfig)}
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pretrained", required=True, help="local diffusers model folder (with model_index.json)")
    p.add_argument("--data", required=True,
                   help="a built I&2T set, or a folder with metadata.jsonl (file_name, text, [perceptual_text])")
    p.add_argument("--output", required=True, help="adapter checkpoint to write (.safetensors; a .json goes beside it)")
    p.add_argument("--declip", default=d["declip"], help="DeCLIP weight tag or checkpoint path")
    p.add_argument("--num-tokens", type=int, default=d["num_tokens"])
    p.add_argument("--hidden-dim", type=int, default=d["hidden_dim"])
    p.add_argument("--use-semantic", action="store_true", help="also feed DeCLIP's semantic embedding")
    p.add_argument("--resolution", type=int, default=d["resolution"])
    p.add_argument("--batch-size", type=int, default=d["batch_size"])
    p.add_argument("--steps", type=int, default=d["steps"])
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"])
    p.add_argument("--max-grad-norm", type=float, default=d["max_grad_norm"])
    p.add_argument("--drop-perceptual-prob", type=float, default=d["drop_perceptual_prob"])
    p.add_argument("--drop-text-prob", type=float, default=d["drop_text_prob"])
    p.add_argument("--text-embedding-prob", type=float, default=d["text_embedding_prob"],
                   help="probability of conditioning on the perceptual_text's embedding instead of the image's")
    p.add_argument("--overfit-batch", action="store_true", help="sanity check: fit one batch with fixed noise")
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default=d["dtype"], choices=["float32", "float16", "bfloat16"],
                   help="dtype of the frozen diffusion model (the adapter trains in float32)")
    p.add_argument("--num-workers", type=int, default=d["num_workers"])
    p.add_argument("--log-every", type=int, default=d["log_every"])
    p.add_argument("--save-every", type=int, default=d["save_every"])
    p.add_argument("--gradient-checkpointing", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> TrainResult:
    """Parse flags, train, save; returns the losses and the adapter config."""
    args = build_parser().parse_args(argv)
    return train(TrainConfig(**vars(args)), log=stderr_log)


def cli(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: train as `main` does; exit status 0 (errors raise)."""
    main(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
