"""Write docs/img/distortions_contact_sheet.png: rows = distortion types, columns = reference + levels 1..5.

Each type is applied to the whole sample photo (so size-relative parameters act as in real use),
then the same window is cropped at 1:1 for display.

Run: python training/make_contact_sheet.py [--photo astronaut] [--cell 76] [--out PATH]
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from declip_core.io import load_rgb_array

ROOT = Path(__file__).resolve().parents[3]  # the repository (these tools write into docs/)

from declip_core.samples import sample_path
from declip_core.training.data.distortions import (
    DISTORTIONS,
    N_LEVELS,
    apply_distortion,
)

DEFAULT_OUT = ROOT / "docs" / "img" / "distortions_contact_sheet.png"
LABEL_W, HEADER_H, GAP = 150, 22, 2


def load_photo(name: str) -> np.ndarray:
    """A sample photo as uint8 (H, W, 3) RGB."""
    return load_rgb_array(sample_path(name))


def crop_box(img: np.ndarray, cell: int, centre: tuple[float, float]) -> tuple[int, int]:
    """Top-left (y, x) of a cell x cell window centred at fractional (cy, cx), kept inside the image."""
    h, w = img.shape[:2]
    if min(h, w) < cell:
        raise ValueError(f"photo {img.shape[:2]} is smaller than the cell size {cell}")
    y = int(np.clip(round(centre[0] * h - cell / 2), 0, h - cell))
    x = int(np.clip(round(centre[1] * w - cell / 2), 0, w - cell))
    return y, x


def build_sheet(
    img: np.ndarray, cell: int, centre: tuple[float, float], names: Sequence[str], seed: int = 0
) -> Image.Image:
    """Compose the labelled grid."""
    y, x = crop_box(img, cell, centre)
    cols = N_LEVELS + 1
    width = LABEL_W + cols * (cell + GAP)
    height = HEADER_H + len(names) * (cell + GAP)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for c, title in enumerate(["reference"] + [f"level {k}" for k in range(1, N_LEVELS + 1)]):
        draw.text((LABEL_W + c * (cell + GAP) + 4, 4), title, fill="black", font=font)
    for r, name in enumerate(names):
        top = HEADER_H + r * (cell + GAP)
        spec = DISTORTIONS[name]
        sub = f"{spec.attribute} ({spec.direction})" if spec.direction else spec.attribute
        for i, (text, colour) in enumerate(((name, "black"), (spec.family, "gray"), (sub, "gray"))):
            draw.text((4, top + cell // 2 - 26 + 17 * i), text, fill=colour, font=font)
        tiles = [img] + [apply_distortion(img, name, k, seed) for k in range(1, N_LEVELS + 1)]
        for c, tile in enumerate(tiles):
            window = tile[y : y + cell, x : x + cell]  # (cell, cell, 3)
            sheet.paste(Image.fromarray(window), (LABEL_W + c * (cell + GAP), top))
    return sheet


def main(argv: Sequence[str] | None = None) -> None:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photo", default="astronaut")
    ap.add_argument("--cell", type=int, default=76)
    ap.add_argument("--centre", type=float, nargs=2, default=(0.27, 0.47), metavar=("CY", "CX"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    sheet = build_sheet(load_photo(args.photo), args.cell, tuple(args.centre), list(DISTORTIONS), args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height}, {args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
