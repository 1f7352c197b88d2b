"""Input-contract figures (issue #11), measured side by side in one run:

1. memory by shape: peak RSS added by one `declip_tech` call on a 1x1024, a 16x4096 and a 1024x1024
   image, with the bounded resize (transforms.WINDOW_FACTOR = 4) and without it (the old full-size
   intermediate), each in a fresh process;
2. gaming: one signed-gradient step of 0.5/255 on the input of `declip_tech` used as a loss, with the
   plain loss and with `eot=8` (expectation over 8 random views), on the first sample photos
   (longer side 384 px).

    PYTHONPATH=. python benchmarks/bench_input_contract.py [--skip-memory] [--skip-gaming] [--photos 4]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import torch

_MEM_CHILD = r"""
import json, resource, sys, torch
import declip_core.transforms as T
from declip_core.iqa import create_quality_model
h, w, bounded = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
if not bounded:
    T.WINDOW_FACTOR = 10 ** 9
torch.set_num_threads(1)
m = create_quality_model("tech")
x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    m(torch.rand(1, 3, 64, 64))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s = float(m(x))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"added_mb": (peak - base) / 1024, "score": s}))
"""


def memory() -> None:
    print("## memory: peak RSS added by one declip_tech call (fresh process each)")
    print(f"{'shape':>10}  {'bounded MB':>10}  {'unbounded MB':>12}  {'score bounded':>13}  {'score unbounded':>15}")
    for h, w in ((1, 1024), (16, 4096), (1024, 1024)):
        r = {}
        for bounded in ("1", "0"):
            out = subprocess.run([sys.executable, "-c", _MEM_CHILD, str(h), str(w), bounded], check=True,
                                 capture_output=True, text=True).stdout
            r[bounded] = json.loads(out.strip().splitlines()[-1])
        print(f"{h:>4}x{w:<5}  {r['1']['added_mb']:>10.1f}  {r['0']['added_mb']:>12.1f}  {r['1']['score']:>13.6f}  "
              f"{r['0']['score']:>15.6f}")


def gaming(n_photos: int, eps: float = 0.5 / 255, n_eot: int = 8) -> None:
    import pyiqa

    from declip_core.io import load_image
    from declip_core.samples import sample_paths

    plain = pyiqa.create_metric("declip_tech", as_loss=True, device="cpu")
    eot = pyiqa.create_metric("declip_tech", as_loss=True, device="cpu", eot=n_eot, eot_seed=1)
    judge = pyiqa.create_metric("declip_tech", as_loss=True, device="cpu", eot=n_eot, eot_seed=12345)
    score = pyiqa.create_metric("declip_tech", device="cpu")

    def step(loss_fn, x: torch.Tensor) -> torch.Tensor:
        x = x.clone().requires_grad_(True)
        loss_fn(x).backward()
        return (x + eps * x.grad.sign()).clamp(0, 1).detach()

    def judged(x: torch.Tensor) -> float:
        return float(judge(x))

    print(f"\n## gaming: one signed-gradient step of {eps * 255:.1f}/255 raising declip_tech")
    print("score: the plain metric (as pyiqa scores); eot-judge: the eot=8 loss with an independent seed")
    print(f"{'photo':<22} {'score':>6}  {'plain step: score':>17} {'eot-judge':>9}  "
          f"{'eot step: score':>15} {'eot-judge':>9}  {'judge before':>12}")
    rows = []
    for p in sample_paths()[:n_photos]:
        im = load_image(p)
        im.thumbnail((384, 384))
        x = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)
        s0, j0 = float(score(x)), judged(x)
        xp, xe = step(plain, x), step(eot, x)
        r = (float(score(xp)) - s0, judged(xp) - j0, float(score(xe)) - s0, judged(xe) - j0)
        rows.append(r)
        print(f"{p.name:<22} {s0:>6.3f}  {s0 + r[0]:>17.3f} {j0 + r[1]:>9.3f}  {s0 + r[2]:>15.3f} {j0 + r[3]:>9.3f}"
              f"  {j0:>12.3f}")
    m = np.mean(rows, axis=0)
    print(f"mean gain: plain step {m[0]:+.3f} (score), {m[1]:+.3f} (eot-judge); "
          f"eot step {m[2]:+.3f} (score), {m[3]:+.3f} (eot-judge)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-gaming", action="store_true")
    ap.add_argument("--photos", type=int, default=4, help="how many sample photos for the gaming figures")
    a = ap.parse_args()
    torch.manual_seed(0)
    if not a.skip_memory:
        memory()
    if not a.skip_gaming:
        gaming(a.photos)


if __name__ == "__main__":
    main()
