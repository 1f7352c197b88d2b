"""`make demo`: score the sample photos and distorted copies with pyiqa's `declip_tech` and `declip_aes`.

The metrics are made with `pyiqa.create_metric`, exactly as a user would (the DeCLIP metrics reach
pyiqa through the plugin's import hook, see docs/pyiqa.md). For each sample photo, a few distortion
types at levels 2 and 4 are written to a temporary folder and read back as one batch; the two weakest
technical attributes are named, and one line per photo checks that the clean photo's tech score is
above all its distorted copies'. Then the composition check: per photo, `declip_aes` of the original framing
against four composition edits (an off-balance corner crop, a tilt, an added border, empty space).

    python -m declip_core.demo [--weights DIR] [--photos N]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from declip_core.constants import METRICS

DISTORTIONS = ("gaussian_blur", "white_noise", "jpeg", "darken")
LEVELS = (2, 4)
_FILES = {"declip": "declip.safetensors", "tech": "iqa-tech.safetensors", "aes": "iqa-aes.safetensors"}


def trained_weights(folder: str | Path | None = None) -> tuple[dict[str, dict[str, str]], str] | None:
    """pyiqa.create_metric keyword arguments per metric ('tech', 'aes') and where they come from.

    folder given (e.g. the out folder of training/train.py): its declip/iqa-tech/iqa-aes .safetensors.
    Else the shipped tags ('lite', 'lite-tech', 'lite-aes'; no keywords needed). None when there are none.
    """
    from declip_core.pretrained import resolve_checkpoint

    if folder is None:
        try:
            resolve_checkpoint("lite", kind="declip")
            for m in METRICS:
                resolve_checkpoint(f"lite-{m}", kind="iqa_head")
            return {m: {} for m in METRICS}, "shipped weight tags lite, lite-tech, lite-aes"
        except ValueError:
            return None
    d = Path(folder)
    paths = {k: d / f for k, f in _FILES.items()}
    if not all(p.is_file() and p.with_suffix(".json").is_file() for p in paths.values()):
        return None
    return ({m: {"declip": str(paths["declip"]), "checkpoint": str(paths[m])} for m in METRICS},
            f"checkpoints in {d}")


@dataclass(frozen=True)
class Row:
    photo: str
    variant: str  # "clean" or "<type> L<level>"
    tech: float
    aes: float
    weakest: tuple[tuple[str, float], ...]


def _write_variants(photo: Path, out_dir: Path) -> list[tuple[str, Path]]:
    """The clean photo and its distorted copies (lossless PNG) as (variant, path)."""
    import numpy as np
    from PIL import Image

    from declip_core.training.data.distortions import apply_distortion
    from declip_core.io import load_rgb_array

    rgb = load_rgb_array(photo)
    items = [("clean", photo)]
    for name in DISTORTIONS:
        for level in LEVELS:
            p = out_dir / f"{photo.stem}__{name}_{level}.png"
            Image.fromarray(np.ascontiguousarray(apply_distortion(rgb, name, level, seed=0))).save(p, compress_level=1)
            items.append((f"{name} L{level}", p))
    return items


def score_photos(photos: Sequence[Path], metrics: dict[str, Any], work_dir: Path) -> list[Row]:
    """Score each photo and its distorted copies with the pyiqa metrics, one (9, 3, H, W) batch per photo
    read back from the files; the attributes come from the tech metric's network (`metric.net`)."""
    import torch

    from declip_core.io import load_image
    from declip_core.transforms import pil_to_tensor01

    rows = []
    for photo in photos:
        variants = _write_variants(photo, work_dir)
        x = torch.stack([pil_to_tensor01(load_image(path)) for _, path in variants])  # distortions keep the size
        with torch.no_grad():
            tech = metrics["tech"](x)[:, 0].tolist()
            aes = metrics["aes"](x)[:, 0].tolist()
            attrs = metrics["tech"].net.attribute_scores(x)
        for k, (variant, _) in enumerate(variants):
            weakest = tuple(sorted(((a, float(v[k])) for a, v in attrs.items()), key=lambda kv: kv[1])[:2])
            rows.append(Row(photo.stem, variant, float(tech[k]), float(aes[k]), weakest))
    return rows


def format_table(rows: Sequence[Row]) -> str:
    """Photo, variant, tech, aes and the two weakest attributes, one line per scored file."""
    lines = [f"{'photo':<18} {'variant':<18} {'tech':>5} {'aes':>5}  weakest attributes (P good)",
             f"{'-' * 18} {'-' * 18} {'-' * 5} {'-' * 5}  {'-' * 34}"]
    last = None
    for r in rows:
        photo = r.photo if r.photo != last else ""
        last = r.photo
        weak = ", ".join(f"{a} {p:.2f}" for a, p in r.weakest)
        lines.append(f"{photo:<18} {r.variant:<18} {r.tech:>5.3f} {r.aes:>5.3f}  {weak}")
    return "\n".join(lines)


def check_lines(rows: Sequence[Row]) -> tuple[list[str], int]:
    """One line per photo: did the clean photo's tech score beat all its distorted copies? (+ count of yes)."""
    out, n_ok = [], 0
    photos = list(dict.fromkeys(r.photo for r in rows))
    for photo in photos:
        mine = [r for r in rows if r.photo == photo]
        clean = next(r for r in mine if r.variant == "clean")
        worse = [r for r in mine if r.variant != "clean" and r.tech >= clean.tech]
        n = len(mine) - 1
        if worse:
            which = ", ".join(f"{r.variant} {r.tech:.3f}" for r in worse)
            out.append(f"CHECK {photo}: clean tech {clean.tech:.3f} NOT above {len(worse)}/{n} copies ({which})")
        else:
            n_ok += 1
            out.append(f"CHECK {photo}: clean tech {clean.tech:.3f} above all {n} distorted copies: ok")
    return out, n_ok


COMPOSITION_EDITS = ("crop_corner", "tilt", "border", "empty_space")  # at strength 2 (aesthetic_edits)


def composition_lines(photos: Sequence[Path], aes: Any) -> tuple[list[str], int, int]:
    """One line per photo: the aes score of the original framing and of its composition edits
    (declip_core.training.data.aesthetic_edits, strength 2), scored in one batch; (+ pairs won, pairs)."""
    import numpy as np
    import torch

    from declip_core.io import load_rgb_array
    from declip_core.training.data.aesthetic_edits import apply_aesthetic_edit

    out, won, total = [], 0, 0
    for photo in photos:
        rgb = load_rgb_array(photo)
        ims = [rgb] + [apply_aesthetic_edit(rgb, e, 2, seed=0) for e in COMPOSITION_EDITS]
        x = torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).float() / 255.0
        with torch.no_grad():
            s = aes(x)[:, 0].tolist()
        wins = [e for e, v in zip(COMPOSITION_EDITS, s[1:]) if s[0] > v]
        won, total = won + len(wins), total + len(COMPOSITION_EDITS)
        edits = ", ".join(f"{e} {v:.3f}" for e, v in zip(COMPOSITION_EDITS, s[1:]))
        out.append(f"CHECK-AES {photo.stem}: original aes {s[0]:.3f} above {len(wins)}/{len(COMPOSITION_EDITS)} "
                   f"composition edits ({edits})")
    return out, won, total


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m declip_core.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=None, help="folder with declip.safetensors, iqa-tech.safetensors and "
                                                     "iqa-aes.safetensors (default: the shipped tags)")
    ap.add_argument("--photos", type=int, default=0, help="score only the first N sample photos (0: all)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    from declip_core.samples import sample_paths

    found = trained_weights(args.weights)
    if found is None:
        where = args.weights or "the shipped tags (declip_core/weights)"
        print(f"demo: no trained DeCLIP weights in {where}; train them with "
              "`python training/train.py --config training/configs/lite.yaml` and pass its output folder "
              "as --weights", file=sys.stderr)
        return 2
    kwargs, source = found

    import pyiqa  # the DeCLIP metrics are added to pyiqa by the plugin's import hook; nothing of ours imported

    metrics = {m: pyiqa.create_metric(f"declip_{m}", device="cpu", **kwargs[m]) for m in METRICS}
    print(f"weights: {source}")
    for m, metric in metrics.items():
        print(f"pyiqa.create_metric('declip_{m}'): mode {metric.metric_mode}, range {metric.score_range}, "
              f"lower_better {metric.lower_better}")
    photos = sample_paths()[: args.photos or None]
    print(f"\n{len(photos)} sample photos, each clean and with {', '.join(DISTORTIONS)} at levels "
          f"{' and '.join(map(str, LEVELS))}\n")
    with tempfile.TemporaryDirectory(prefix="declip-demo-") as tmp:
        rows = score_photos(photos, metrics, Path(tmp))
    print(format_table(rows))
    print()
    checks, n_ok = check_lines(rows)
    print("\n".join(checks))
    print(f"\nclean photo above all its distorted copies (tech): {n_ok}/{len(photos)} photos")
    comp, won, total = composition_lines(photos, metrics["aes"])
    print(f"\naesthetics: each original framing against {', '.join(COMPOSITION_EDITS)} (strength 2)\n")
    print("\n".join(comp))
    print(f"\noriginal framing above its composition edits (aes): {won}/{total} pairs")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
