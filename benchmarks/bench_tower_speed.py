"""Speed of the scoring hot path, figures side by side in one run (not a test: they depend on the machine and its load).

    python benchmarks/bench_tower_speed.py [--threads 1] [--repeats 5] [--n-files 16] [--skip-pyiqa]

1. Image tower, ms per 224-px crop (batch 1 and batch 5 = one file's views), min over repeats,
   interleaved: our `lite` tower (timm tf_efficientnet_lite0 + PyPI weights + stage taps) against
   timm's own `efficientnet_lite0` and `tf_efficientnet_lite0` forward on the same input; also
   `lite1` (240 px) and `lite2` (260 px).
2. Files/s on the same N files of 512x512 (centre squares of the committed samples, resized), one file
   per call: `pyiqa.create_metric('declip_tech')(path)` against BRISQUE. pyiqa's own `brisque` downloads
   its SVM weights on first use (no network here), so BRISQUE is PyPI `brisque` 0.2 (which ships its
   model) through benchmarks/brisque_compat.py, reading the file with PIL. Wall time and this
   process's CPU time are both given: on a shared machine the wall time mostly measures the others.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _best_ms(fn, repeats: int) -> float:
    """Min over repeats of this process's CPU time (user + system) in ms: on a shared machine wall time mostly
    measures the other processes."""
    ts = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        ts.append(time.process_time() - t0)
    return 1000 * min(ts)


def bench_towers(repeats: int) -> None:
    import timm

    from declip_core.backbones.efficientnet_lite import load_tower

    towers = {"ours lite (timm tf_lite0 + taps)": (load_tower("lite0")[0], 224),
              "timm efficientnet_lite0": (timm.create_model("efficientnet_lite0").eval(), 224),
              "timm efficientnet_lite0 chlast": (timm.create_model("efficientnet_lite0").eval()
                                                 .to(memory_format=torch.channels_last), 224),
              "timm tf_efficientnet_lite0": (timm.create_model("tf_efficientnet_lite0").eval(), 224),
              "ours lite1": (load_tower("lite1")[0], 240),
              "ours lite2": (load_tower("lite2")[0], 260)}
    g = torch.Generator().manual_seed(0)
    res: dict[str, dict[int, list[float]]] = {k: {1: [], 5: []} for k in towers}
    with torch.inference_mode():
        for _ in range(3):  # interleave rounds so load changes hit every model alike
            for name, (m, size) in towers.items():
                for b in (1, 5):
                    x = torch.randn(b, 3, size, size, generator=g)
                    m(x)  # warm-up
                    res[name][b].append(_best_ms(lambda: m(x), repeats) / b)
    print(f"\n== image tower, CPU ms per crop (min over rounds), threads={torch.get_num_threads()} ==")
    base = {b: min(res["timm efficientnet_lite0"][b]) for b in (1, 5)}
    print(f"{'tower':36s} {'batch1':>8s} {'batch5':>8s} {'vs timm lite0 (b1/b5)':>22s}")
    for name in towers:
        m1, m5 = min(res[name][1]), min(res[name][5])
        print(f"{name:36s} {m1:8.1f} {m5:8.1f} {m1 / base[1]:10.2f} / {m5 / base[5]:.2f}")


def _make_files(n: int, d: Path) -> list[str]:
    from PIL import Image

    from declip_core.io import load_image
    from declip_core.samples import sample_path

    names = ["astronaut", "camera", "chelsea", "china", "coffee", "flower", "grace_hopper", "rocket"]
    out = []
    for i in range(n):
        im = load_image(sample_path(names[i % len(names)]))
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((512, 512), Image.BICUBIC)
        if i >= len(names):
            im = im.rotate(90 * (i // len(names)))
        p = d / f"f{i:03d}.png"
        im.save(p)
        out.append(str(p))
    return out


def bench_pyiqa(n_files: int) -> None:
    import pyiqa
    from brisque_compat import CompatBRISQUE
    from declip_core.io import load_rgb_array

    def brisque():
        b = CompatBRISQUE()
        return lambda path: b.score_array(load_rgb_array(path))

    with tempfile.TemporaryDirectory() as d:
        files = _make_files(n_files, Path(d))
        rates, cpu_rates = {}, {}
        for name in ("declip_tech", "brisque"):
            t0 = time.perf_counter()
            m = pyiqa.create_metric(name, device="cpu") if name == "declip_tech" else brisque()
            t_create = time.perf_counter() - t0
            m(files[0])  # warm-up
            c0, t0 = time.process_time(), time.perf_counter()
            for f in files:
                m(f)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            rates[name], cpu_rates[name] = len(files) / dt, len(files) / cpu
            print(f"{name:12s} create {t_create:5.2f} s  wall {rates[name]:6.2f} files/s ({1000 * dt / len(files):6.1f} ms/file)"
                  f"  CPU {1000 * cpu / len(files):6.1f} ms/file ({cpu / dt:4.2f} cores busy)", flush=True)
        print(f"declip_tech / brisque files/s: wall {rates['declip_tech'] / rates['brisque']:.2f}x, per CPU second "
              f"{cpu_rates['declip_tech'] / cpu_rates['brisque']:.2f}x  ({n_files} files of 512x512, "
              f"threads={torch.get_num_threads()})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-files", type=int, default=16)
    ap.add_argument("--skip-pyiqa", action="store_true")
    ap.add_argument("--skip-towers", action="store_true")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if not a.skip_towers:
        bench_towers(a.repeats)
    if not a.skip_pyiqa:
        print(f"\n== pyiqa, one file per call, threads={torch.get_num_threads()} ==")
        bench_pyiqa(a.n_files)


if __name__ == "__main__":
    main()
