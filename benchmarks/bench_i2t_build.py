"""I&2T build rate: builds from the committed `samples` photos into a temp folder with 1 and 2 workers.

Prints, per worker count, end-to-end samples/s (everything build_i2t does) and the render+write rate
(captioning time excluded), plus the `lite` backbone's load and caption time, measured separately.

Run: python benchmarks/bench_i2t_build.py [--workers 1 2] [--crops-per-photo 2] [--crop-size 256]
Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from declip_core.training.data.i2t import BuildConfig, build_i2t
from declip_core.training.data.texts import Captioner
from declip_core.training.config import DEFAULT_HELDOUT_PHOTOS, DEFAULT_HELDOUT_TYPES


class TimedCaptioner:
    """Wraps a captioner and adds up the wall time spent in it."""

    def __init__(self, inner: Captioner) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.images = 0

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        """The inner captioner's captions, timed."""
        t0 = time.perf_counter()
        out = self.inner.caption(images)
        self.seconds += time.perf_counter() - t0
        self.images += len(images)
        return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--crop-size", type=int, default=256)
    ap.add_argument("--crops-per-photo", type=int, default=2)
    ap.add_argument("--singles-per-crop", type=int, default=40)
    ap.add_argument("--combos-per-crop", type=int, default=10)
    ap.add_argument("--no-heldout", action="store_true", help="no held-out photos (they add 252 samples each)")
    a = ap.parse_args(argv)
    if any(w < 1 for w in a.workers):
        print("error: --workers must be >= 1", file=sys.stderr)
        return 2

    from declip_core.backbones import create_backbone
    from declip_core.training.data.i2t.captioner import lite_captioner

    t0 = time.perf_counter()
    backbone = create_backbone("lite")
    load_s = time.perf_counter() - t0
    print(f"machine: {os.cpu_count()} CPUs visible; lite backbone load {load_s:.1f} s")
    print(f"{'workers':>7} {'samples':>8} {'total s':>8} {'caption s':>10} {'samples/s':>10} {'render/s':>9}")
    for w in a.workers:
        cfg = BuildConfig(crop_size=a.crop_size, crops_per_photo=a.crops_per_photo,
                          singles_per_crop=a.singles_per_crop, combos_per_crop=a.combos_per_crop,
                          heldout_photos=() if a.no_heldout else DEFAULT_HELDOUT_PHOTOS,
                          heldout_types=DEFAULT_HELDOUT_TYPES, workers=w)
        cap = TimedCaptioner(lite_captioner(backbone))
        with tempfile.TemporaryDirectory(prefix="bench_i2t_") as tmp:
            t0 = time.perf_counter()
            s = build_i2t(["samples"], Path(tmp) / "set", cfg, cap, progress=False)
            total = time.perf_counter() - t0
        render_s = total - cap.seconds
        print(f"{w:>7} {s.rendered:>8} {total:>8.1f} {cap.seconds:>10.1f} {s.rendered / total:>10.1f} "
              f"{s.rendered / render_s:>9.1f}")
        print(f"        captions: {cap.images} crops in {cap.seconds:.1f} s "
              f"({cap.images / max(cap.seconds, 1e-9):.1f} crops/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
