r"""Train the perception-controlled diffusion demo from scratch on the CPU (docs/control_demo.md).

    python training/train_control_demo.py                  # runs/control/control_demo.safetensors

A 32x32 pixel-space UNet2DConditionModel learns patches of the offline training photos and their
distortions, conditioned only through DP-Adapter tokens of DeCLIP's perceptual embedding. The run
stops (and saves) at --max-minutes; the same command resumes from runs/control/state.safetensors.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields

from declip_core.training.control_demo.model import ControlDemoConfig
from declip_core.training.control_demo.train import TrainConfig, TrainResult, stderr_log, train


def _ints(s: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in s.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from e


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags: the TrainConfig fields and the main architecture knobs."""
    d = {f.name: f.default for f in fields(TrainConfig)}
    m = ControlDemoConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output-dir", default=d["output_dir"])
    p.add_argument("--declip", default=d["declip"],
                   help="DeCLIP tag or checkpoint; 'auto' = tag 'lite' when shipped, else runs/lite/declip.safetensors")
    for name in ("steps", "batch_size", "warmup_steps", "crop", "crops_per_photo", "phrases_per_condition", "seed",
                 "log_every", "threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=d[name])
    for name in ("lr", "weight_decay", "max_grad_norm", "ema_decay", "p_text", "p_null", "max_minutes",
                 "save_every_minutes"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=d[name])
    p.add_argument("--no-resume", dest="resume", action="store_false", help="start over even if a state exists")
    p.add_argument("--channels", type=_ints, default=m.block_out_channels, help="UNet block widths, e.g. 32,64,96")
    p.add_argument("--cross-attention", type=_ints, default=tuple(int(a) for a in m.cross_attention),
                   help="per level, 1 = cross-attention blocks, e.g. 0,0,1")
    p.add_argument("--context-dim", type=int, default=m.context_dim)
    p.add_argument("--num-tokens", type=int, default=m.num_tokens)
    p.add_argument("--prediction-type", default=m.prediction_type, choices=["epsilon", "v_prediction"])
    return p


def main(argv: Sequence[str] | None = None) -> TrainResult:
    """Parse flags and train (or resume)."""
    a = vars(build_parser().parse_args(argv))
    model = ControlDemoConfig(block_out_channels=a.pop("channels"),
                              cross_attention=tuple(bool(v) for v in a.pop("cross_attention")),
                              context_dim=a.pop("context_dim"), num_tokens=a.pop("num_tokens"),
                              prediction_type=a.pop("prediction_type"))
    return train(TrainConfig(model=model, **a), log=stderr_log)


def cli(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: train as `main` does. Exit status 0 when the run reached --steps; 3 when
    --max-minutes stopped it first (the state and an unfinished model are saved; the same command resumes).
    Errors raise."""
    res = main(argv)
    if not res.finished:
        print(f"stopped at step {res.step} by --max-minutes before --steps: the model is marked unfinished; "
              "run the same command to resume", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
