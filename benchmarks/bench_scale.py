"""Throughput and memory of bulk scoring (declip-score), all on the same 512x512 JPEG files in ONE run.

    python benchmarks/bench_scale.py [--n 64] [--batch-size 16] [--repeat 2] [--skip-ray] [--out FILE.md]

Measured, on the CPU:
* raw backbone forward: `declip.backbone.encode_image` over the already decoded, cut and normalised
  views of the files (the shipped tech head's view policy: one native-resolution 256-px centre crop with v4),
  in batches of --batch-size images: the limit for the pipeline;
* declip_tech end to end with the local engine (what `declip-score --engine local` runs: lazy inputs,
  decode + views in 0, 1, 2 DataLoader worker processes, one backbone pass per batch, heads, rows written
  to a resumable Parquet table);
* the Ray engine on a local Ray (1 actor with 2 CPUs; 2 actors with 1 CPU each): whole-run rate
  (including actor start and model load), and without start-up (a 1-file run's time subtracted);
* BRISQUE (PyPI brisque via benchmarks/brisque_compat.py: decode + score, one process);
* peak RSS of `declip-score` (this process and its decode worker) on N and 5N inputs, each in a fresh
  process.
Targets (issue #14; checked and printed here, never in tests): declip_tech >= 3x BRISQUE images/s and
>= 90% of the raw forward; Ray on one machine >= 80% of local; peak RSS for 5N within 10% of N's.
Figures depend on the machine and its load: the 1-minute load average is printed at start and end.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
_HERE = "benchmarks/bench_scale.py"


def make_files(folder: Path, n: int, side: int = 512) -> list[Path]:
    """n side x side JPEGs (quality 90) cut from the bundled sample photos at varied offsets and scales."""
    from declip_core.io import load_image
    from declip_core.samples import sample_paths

    names = sample_paths()
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        im = load_image(names[i % len(names)])
        s = min(im.size) * rng.uniform(0.6, 1.0)
        x0 = rng.uniform(0, im.size[0] - s)
        y0 = rng.uniform(0, im.size[1] - s)
        crop = im.crop((round(x0), round(y0), round(x0 + s), round(y0 + s))).resize((side, side), Image.BICUBIC)
        p = folder / f"img{i:05d}.jpg"
        crop.save(p, quality=90)
        out.append(p)
    return out


def load1() -> float:
    return os.getloadavg()[0]


def raw_forward(scorer, paths, batch_size: int) -> float:
    import torch

    dc = scorer.declip
    views = [dc.backbone.normalize(scorer.decode(i, str(p)).views[0]) for i, p in enumerate(paths)]
    batches = [torch.cat(views[i:i + batch_size]) for i in range(0, len(views), batch_size)]
    with torch.inference_mode():
        dc.backbone.encode_image(batches[0])  # warm-up
        t0 = time.perf_counter()
        for x in batches:
            dc.backbone.encode_image(x)
    return len(paths) / (time.perf_counter() - t0)


def local_engine(scorer, paths, batch_size: int, workers: int, out: Path) -> float:
    from declip_core.scoring.local import score_local
    from declip_core.scoring.sink import ResultSink

    sink = ResultSink(out, scorer.schema(), overwrite=True)
    t0 = time.perf_counter()
    n = 0
    for rows in score_local((str(p) for p in paths), scorer, batch_size=batch_size, workers=workers):
        if any(r["error"] for r in rows):
            raise RuntimeError(f"{_HERE}: benchmark files failed: {[r['error'] for r in rows if r['error']][:3]}")
        sink.write(rows)
        n += len(rows)
    sink.finish()
    return n / (time.perf_counter() - t0)


def ray_engine(make, paths, batch_size: int, actors: int, cpus_per_actor: float) -> dict[str, float]:
    """images/s of score_ray over all paths ('whole': including the actors' start and model load), and
    'excl_start': the same with the time of a separate 1-file run (start + load + 1 file) subtracted."""
    from declip_core.scoring.ray_engine import score_ray

    def timed(ps) -> float:
        t0 = time.perf_counter()
        n = sum(len(rows) for rows in score_ray((str(p) for p in ps), make, batch_size=batch_size, actors=actors,
                                                 cpus_per_actor=cpus_per_actor))
        if n != len(ps):
            raise RuntimeError(f"{_HERE}: Ray returned {n} rows for {len(ps)} files")
        return time.perf_counter() - t0

    start = timed(paths[:1])
    whole = timed(paths)
    return {"whole": len(paths) / whole,
            "excl_start": (len(paths) - 1) / (whole - start) if whole > start else float("nan")}


def brisque(paths) -> float:
    from brisque_compat import CompatBRISQUE

    b = CompatBRISQUE()
    b.score_file(paths[0])  # warm-up
    t0 = time.perf_counter()
    for p in paths:
        b.score_file(p)
    return len(paths) / (time.perf_counter() - t0)


_RSS = textwrap.dedent("""
    import json, resource, sys
    from declip_core.scoring.cli import main
    rc = main([sys.argv[1], "--out", sys.argv[2], "--workers", "1", "--batch-size", sys.argv[3], "-q",
               "--no-summary", "--overwrite"])
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"rc": rc, "self_mb": self_kb / 1024, "worker_mb": child_kb / 1024}))
""")


def peak_rss(paths, n: int, batch_size: int, tmp: Path) -> dict[str, float]:
    lst = tmp / f"list{n}.txt"
    lst.write_text("".join(f"{paths[i % len(paths)]}\n" for i in range(n)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", _RSS, str(lst), str(tmp / f"rss{n}.parquet"), str(batch_size)],
                       capture_output=True, text=True, env=env, timeout=3600, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{_HERE}: RSS child failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=64, help="files timed per configuration (and N of the RSS check)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2, help="local runs per configuration (best is reported)")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--out", default=None, help="also write the markdown table here")
    a = ap.parse_args(argv)

    import torch

    from declip_core.scoring.scorer import build_scorer

    res: dict[str, object] = {"load_start": load1(), "n": a.n, "batch_size": a.batch_size,
                              "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    make = functools.partial(build_scorer, ["tech"])
    scorer = make()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        paths = make_files(tmp, a.n)
        res["views_per_image"] = sum(len(scorer.decode(0, str(p)).views[0]) for p in paths[:4]) / 4
        runs: dict[str, list[float]] = {"raw": [], "w0": [], "w1": [], "w2": []}
        if not a.skip_ray:
            from declip_core.scoring.ray_engine import init_ray

            init_ray(num_cpus=2, object_store_mb=128)
            runs.update({"ray1_whole": [], "ray1_excl_start": [], "ray2_whole": [], "ray2_excl_start": []})
        for _ in range(a.repeat):  # interleaved, so a load spike hits all alike
            runs["raw"].append(raw_forward(scorer, paths, a.batch_size))
            for w in (0, 1, 2):
                runs[f"w{w}"].append(local_engine(scorer, paths, a.batch_size, w, tmp / "out.parquet"))
            if not a.skip_ray:
                for k, (actors, cpus) in {"ray1": (1, 2.0), "ray2": (2, 1.0)}.items():
                    r = ray_engine(make, paths, a.batch_size, actors, cpus)
                    runs[f"{k}_whole"].append(r["whole"])
                    runs[f"{k}_excl_start"].append(r["excl_start"])
        res.update({k: max(v) for k, v in runs.items() if not k.startswith("ray")})
        if not a.skip_ray:
            for k in ("ray1", "ray2"):
                res[k] = {"whole": max(runs[f"{k}_whole"]), "excl_start": max(runs[f"{k}_excl_start"])}
            import ray

            ray.shutdown()
        res["runs"] = runs
        res["brisque"] = brisque(paths[: min(16, a.n)])
        if not a.skip_rss:
            res["rss_N"] = peak_rss(paths, a.n, a.batch_size, tmp)
            res["rss_5N"] = peak_rss(paths, 5 * a.n, a.batch_size, tmp)
    res["load_end"] = load1()
    print(json.dumps(res, indent=1))
    print(table(res, argv))
    if a.out:
        Path(a.out).write_text(table(res, argv) + "\n")
    return 0


def table(r: dict, argv) -> str:
    local = max(r["w0"], r["w1"], r["w2"])
    best_w = max((0, 1, 2), key=lambda w: r[f"w{w}"])
    rows = [f"| configuration ({r['n']} files of 512x512, batch {r['batch_size']}, {r['views_per_image']:.0f} views "
            f"per image) | images/s |", "|---|---|",
            f"| raw backbone forward over the same views (no decode, no heads) | {r['raw']:.2f} |"]
    rows += [f"| declip_tech, local engine, {w} decode worker(s) | {r[f'w{w}']:.2f} |" for w in (0, 1, 2)]
    if "ray1" in r:
        rows += [f"| declip_tech, Ray engine, 1 actor x 2 CPUs: whole run / without start-up | {r['ray1']['whole']:.2f} / "
                 f"{r['ray1']['excl_start']:.2f} |",
                 f"| declip_tech, Ray engine, 2 actors x 1 CPU: whole run / without start-up | {r['ray2']['whole']:.2f} / "
                 f"{r['ray2']['excl_start']:.2f} |"]
    rows.append(f"| BRISQUE (decode + score, one process) | {r['brisque']:.2f} |")
    if "rss_N" not in r:
        r = {**r, "rss_N": {"self_mb": float("nan"), "worker_mb": float("nan")},
             "rss_5N": {"self_mb": float("nan"), "worker_mb": float("nan")}}
    rss_n = r["rss_N"]["self_mb"] + r["rss_N"]["worker_mb"]
    rss_5n = r["rss_5N"]["self_mb"] + r["rss_5N"]["worker_mb"]
    rss_line = (f"Peak RSS of declip-score (main + decode worker): N={r['n']}: {rss_n:.0f} MB "
             f"({r['rss_N']['self_mb']:.0f} + {r['rss_N']['worker_mb']:.0f}); 5N={5 * r['n']}: {rss_5n:.0f} MB "
             f"({r['rss_5N']['self_mb']:.0f} + {r['rss_5N']['worker_mb']:.0f})")
    lines = ["\n".join(rows), ""] + ([rss_line, ""] if rss_n == rss_n else []) + [
             "Targets (issue #14):",
             f"- declip_tech / BRISQUE = {local / r['brisque']:.1f}x (target >= 3x): "
             f"{'met' if local >= 3 * r['brisque'] else 'MISSED'}",
             f"- declip_tech / raw forward = {100 * local / r['raw']:.0f}% (best local, {best_w} workers; target >= 90%): "
             f"{'met' if local >= 0.9 * r['raw'] else 'MISSED'}"]
    if "ray1" in r:
        ray_best = max(r["ray1"]["whole"], r["ray2"]["whole"])
        ray_steady = max(r["ray1"]["excl_start"], r["ray2"]["excl_start"])
        lines.append(f"- Ray / local = {100 * ray_best / local:.0f}% whole run, {100 * ray_steady / local:.0f}% without start-up "
                     f"(target >= 80%): {'met' if ray_best >= 0.8 * local else 'MISSED'} (whole run)")
    if rss_n == rss_n:  # not NaN: measured
        lines.append(f"- peak RSS 5N / N = {rss_5n / rss_n:.3f} (target <= 1.10): "
                     f"{'met' if rss_5n <= 1.1 * rss_n else 'MISSED'}")
    else:
        lines.append("- peak RSS: not measured in this run (--skip-rss)")
    lines.append(f"\nLoad average (1 min) at start {r['load_start']:.1f}, at end {r['load_end']:.1f}, on {r['cpus']} "
                 f"CPUs, torch threads {r['torch_threads']}; {platform.processor() or platform.machine()}, "
                 f"{_dt.date.today()}. Command: python benchmarks/bench_scale.py {' '.join(argv or sys.argv[1:])}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
