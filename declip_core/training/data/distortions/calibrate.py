"""Measure severity monotonicity on the committed sample photos and print a Markdown table.

Run: python -m declip_core.training.data.distortions.calibrate
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from declip_core.io import load_rgb_array
from declip_core.samples import sample_paths

from .fidelity import is_strictly_increasing, severity_curve
from .registry import DISTORTIONS

# Types that only act on existing chroma: identity on achromatic photos, so those are skipped.
CHROMA_ONLY: frozenset[str] = frozenset({"color_diffusion", "saturate_up", "saturate_down"})


def load_rgb(path: object) -> np.ndarray:
    """Load a photo as uint8 (H, W, 3) RGB."""
    return load_rgb_array(path)  # type: ignore[arg-type]


def is_achromatic(img: np.ndarray) -> bool:
    """True when R == G == B everywhere."""
    return bool((img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all())


def measure(
    photos: dict[str, np.ndarray], names: Sequence[str], seed: int = 0
) -> dict[str, tuple[np.ndarray, int, int]]:
    """Per type: (mean loss per level, photos where strictly increasing, photos measured)."""
    table: dict[str, tuple[np.ndarray, int, int]] = {}
    for name in names:
        curves = [
            severity_curve(img, name, seed)
            for img in photos.values()
            if not (name in CHROMA_ONLY and is_achromatic(img))
        ]
        ok = sum(is_strictly_increasing(c) for c in curves)
        table[name] = (np.mean(np.asarray(curves), axis=0), ok, len(curves))
    return table


def to_markdown(table: dict[str, tuple[np.ndarray, int, int]]) -> str:
    """Render the measurement as a Markdown table."""
    lines = [
        "| type | L1 | L2 | L3 | L4 | L5 | strictly increasing |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (mean, ok, n) in table.items():
        cells = " | ".join(f"{v:.4f}" for v in mean)
        lines.append(f"| {name} | {cells} | {ok}/{n} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: print the monotonicity table; --types limits it, --verbose prints per-photo curves."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--types", nargs="*", default=list(DISTORTIONS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    photos = {p.stem: load_rgb(p) for p in sample_paths()}
    if args.verbose:
        for name in args.types:
            for stem, img in photos.items():
                if name in CHROMA_ONLY and is_achromatic(img):
                    print(f"{name:22s} {stem:18s} skipped (achromatic photo)")
                    continue
                curve = severity_curve(img, name, args.seed)
                flag = "" if is_strictly_increasing(curve) else "  <-- NOT MONOTONE"
                print(f"{name:22s} {stem:18s} " + " ".join(f"{v:.4f}" for v in curve) + flag)
    print(to_markdown(measure(photos, args.types, args.seed)))


if __name__ == "__main__":
    main()
