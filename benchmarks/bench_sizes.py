"""declip_tech against BRISQUE on the same files at 512x512, 1024x768 and 4000x3000: images/s and peak added
memory, one thread, interleaved in one run (BRISQUE reads every pixel, so this is the fair comparison).

    python benchmarks/bench_sizes.py [--n 8] [--repeat 3] [--out docs/benchmarks/size_benchmark.md]

Files: JPEG (quality 90) made from the committed sample photos, resized to each size (4000x3000 upsamples them;
the timing is what matters). Per size and metric, each in its own fresh process (peak memory only grows within
a process): load the metric, warm it up on one file, then `--repeat` passes over the `--n` files, decode
included (declip_tech: `declip_core.scoring.files.score_files`' decoding path through declip_core.embed, which
cuts the fragments from the 8-bit image; BRISQUE: Pillow decode + PyPI brisque). Figures: the median
images/s over the passes, and the peak resident memory while scoring (VmHWM after a reset) minus the resident
memory before scoring. Not a test: figures depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SIZES = ((512, 512), (1024, 768), (4000, 3000))
_HERE = "benchmarks/bench_sizes.py"


def make_files(folder: Path, n: int, size: tuple[int, int]) -> list[Path]:
    """n JPEG files of size (W, H) from the committed sample photos (centre crop to the aspect, resized)."""
    from declip_core.io import load_image
    from declip_core.samples import sample_path
    from declip_core.training.config import DEFAULT_HELDOUT_PHOTOS

    w, h = size
    out = []
    for i in range(n):
        im = load_image(sample_path(DEFAULT_HELDOUT_PHOTOS[i % len(DEFAULT_HELDOUT_PHOTOS)]))
        sw, sh = im.size
        scale = min(sw / w, sh / h)
        cw, ch = round(w * scale), round(h * scale)
        im = im.crop(((sw - cw) // 2, (sh - ch) // 2, (sw - cw) // 2 + cw, (sh - ch) // 2 + ch))
        path = folder / f"{w}x{h}-{i:03d}.jpg"
        im.resize((w, h), Image.Resampling.BICUBIC).save(path, quality=90)
        out.append(path)
    return out


def _mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{_HERE}: no {field} in /proc/self/status")


def child(metric: str, listing: str, repeat: int) -> None:
    """(In a fresh process, one thread) time `metric` on the listed files; print JSON."""
    import torch

    torch.set_num_threads(1)
    paths = Path(listing).read_text().splitlines()
    if metric == "declip_tech":
        from declip_core.iqa import create_quality_model
        from declip_core.scoring.files import score_files

        model = create_quality_model("tech")

        def run(ps: list[str]) -> None:
            _, errors = score_files(ps, model, batch_size=4, workers=0)
            if errors:
                raise RuntimeError(f"{_HERE}: {errors}")
    else:
        from brisque_compat import CompatBRISQUE  # benchmarks/ is on the path: this file runs as a script

        b = CompatBRISQUE()

        def run(ps: list[str]) -> None:
            for p in ps:
                with Image.open(p) as im:
                    b.score_array(np.asarray(im.convert("RGB")))
    run(paths[:1])  # warm-up
    base = _mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM (Linux >= 4.0)
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run(paths)
        rates.append(len(paths) / (time.perf_counter() - t0))
    print(json.dumps({"images_per_s": statistics.median(rates), "rates": rates,
                      "peak_added_mb": _mb("VmHWM") - base, "rss_before_mb": base}))


def measure(metric: str, paths: list[Path], repeat: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(map(str, paths)))
    try:
        r = subprocess.run([sys.executable, __file__, "--_child", metric, fh.name, "--repeat", str(repeat)],
                           capture_output=True, text=True, timeout=3600,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    finally:
        os.unlink(fh.name)
    if r.returncode != 0:
        raise RuntimeError(f"{_HERE}: {metric} child failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8, help="files per size")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "size_benchmark.md"))
    ap.add_argument("--_child", nargs=2, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        child(a._child[0], a._child[1], a.repeat)
        return 0
    from bench_iqa import machine_line, write_report

    machine = machine_line()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            paths = make_files(Path(tmp), a.n, size)
            res = {m: measure(m, paths, a.repeat) for m in ("declip_tech", "BRISQUE")}
            d, b = res["declip_tech"], res["BRISQUE"]
            rows.append((size, d, b))
            print(f"{size[0]}x{size[1]}: declip_tech {d['images_per_s']:.2f}/s (+{d['peak_added_mb']:.0f} MB), "
                  f"BRISQUE {b['images_per_s']:.2f}/s (+{b['peak_added_mb']:.0f} MB), "
                  f"ratio {d['images_per_s'] / b['images_per_s']:.2f}x", flush=True)
    table = ["| image size | declip_tech images/s | BRISQUE images/s | declip_tech / BRISQUE | declip_tech peak added MB "
             "| BRISQUE peak added MB |", "|---|---|---|---|---|---|"]
    for (w, h), d, b in rows:
        table.append(f"| {w}x{h} | {d['images_per_s']:.2f} | {b['images_per_s']:.2f} | "
                     f"{d['images_per_s'] / b['images_per_s']:.2f}x | {d['peak_added_mb']:.0f} | {b['peak_added_mb']:.0f} |")
    cmd = "python benchmarks/bench_sizes.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = (f"# Speed and memory by image size\n\nGenerated by `{cmd.strip()}`. Machine at start: {machine}. One "
            f"thread, {a.n} JPEG files per size, median of {a.repeat} passes, decode included.\n\n" + "\n".join(table) + "\n")
    write_report(a.out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
