"""Milliseconds per 512x512 RGB image for every distortion type and level (prints a table).

Run: python benchmarks/bench_distortions.py [--repeat 3] [--photo astronaut]
Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

from declip_core.training.data.distortions import DISTORTIONS, N_LEVELS, apply_distortion
from declip_core.io import load_image
from declip_core.samples import sample_path


def load_512(name: str) -> np.ndarray:
    """A sample photo resized to uint8 (512, 512, 3)."""
    return np.asarray(load_image(sample_path(name)).resize((512, 512), Image.Resampling.BICUBIC)).copy()


def time_ms(img: np.ndarray, name: str, level: int, repeat: int) -> float:
    """Best-of-`repeat` wall time of one apply_distortion call, in ms."""
    best = float("inf")
    for r in range(repeat):
        t0 = time.perf_counter()
        apply_distortion(img, name, level, seed=r)
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main(argv: Sequence[str] | None = None) -> None:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--photo", default="astronaut")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    img = load_512(args.photo)  # (512, 512, 3)
    apply_distortion(img, "gaussian_blur", 1)  # warm-up (imports, FFT plans)
    head = " | ".join(f"L{k}" for k in range(1, N_LEVELS + 1))
    print(f"| type | {head} | mean |\n|---|{'---|' * (N_LEVELS + 1)}")
    means = []
    for name in DISTORTIONS:
        ms = [time_ms(img, name, k, args.repeat) for k in range(1, N_LEVELS + 1)]
        means.append(float(np.mean(ms)))
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in ms) + f" | {means[-1]:.1f} |")
    print(f"\nall types, all levels: mean {np.mean(means):.1f} ms per 512x512 image (best of {args.repeat})")


if __name__ == "__main__":
    main()
