"""KADID-10k (Lin, Hosu, Saupe, QoMEX 2019) in its official layout.

Official release (``kadid10k.zip``): ``dmos.csv`` with header
``dist_img,ref_img,dmos,var`` and all images, distorted and reference, in
``images/``.  Distorted names are ``I<ref>_<type>_<level>.png`` (81 references,
25 types, levels 1..5), references ``I<ref>.png``.  Despite its name ``dmos``
is a degradation-category mean on 1..5 where 5 is best (higher better);
``var`` is the rating variance, so ``mos_std = sqrt(var)``.  No official split
(the usual protocol splits by reference image; pass ``groups`` to the split
function).

Type numbers follow the paper's order; 7 scales HSV saturation by factors
below 1 (desaturation) and 8 scales the Lab chroma channels by 1..9
(oversaturation), cf. the KADID/ARNIQA distortion code.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ._io import as_root, cell, first_existing, parse_float, read_csv_rows
from .records import SourceRecord

SOURCE = "kadid10k"
LABEL_FILE = "dmos.csv"
DISTORTION_NAMES: tuple[str, ...] = (
    "gaussian_blur",
    "lens_blur",
    "motion_blur",
    "color_diffusion",
    "color_shift",
    "color_quantization",
    "saturate_down",  # 7: HSV saturation x {0.4 .. -0.4}
    "saturate_up",  # 8: Lab a/b x {1 .. 9}
    "jpeg2000",
    "jpeg",
    "white_noise",
    "white_noise_color",
    "impulse_noise",
    "multiplicative_noise",
    "denoise",
    "brighten",
    "darken",
    "mean_shift",
    "jitter",
    "non_eccentric_patch",
    "pixelate",
    "quantization",
    "color_block",
    "high_sharpen",
    "contrast_change",
)
_NAME = re.compile(r"^I(\d+)_(\d+)_(\d+)\.png$", re.IGNORECASE)


def parse_kadid_name(name: str) -> tuple[int, str, int]:
    """``(reference_id, distortion_name, level)`` from e.g. ``I01_07_03.png``."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"{SOURCE}: image name {name!r} is not of the form I<ref>_<type>_<level>.png")
    reference, kind, level = (int(group) for group in match.groups())
    if not 1 <= kind <= len(DISTORTION_NAMES):
        raise ValueError(f"{SOURCE}: image name {name!r} has distortion type {kind}, expected 1..25")
    return reference, DISTORTION_NAMES[kind - 1], level


def read_kadid10k(root: str | Path, image_dir: str = "images") -> list[SourceRecord]:
    """Records of KADID-10k under ``root`` (see module docstring for the layout)."""
    base = as_root(root, SOURCE)
    label_path = first_existing(base, (LABEL_FILE,), SOURCE)
    images = base / image_dir
    records: list[SourceRecord] = []
    for line, row in read_csv_rows(label_path, ["dist_img", "ref_img", "dmos", "var"]):
        name = cell(row, "dist_img", label_path, line)
        try:
            _, distortion, level = parse_kadid_name(name)
        except ValueError as error:
            raise ValueError(f"{label_path}:{line}: {error}") from None
        variance = parse_float(row["var"], label_path, line, "var")
        if variance < 0:
            raise ValueError(f"{label_path}:{line}: negative variance {variance}")
        records.append(
            SourceRecord(
                image_path=images / name,
                source=SOURCE,
                mos=parse_float(row["dmos"], label_path, line, "dmos"),
                mos_range=(1.0, 5.0),
                mos_std=math.sqrt(variance),
                ref_image_path=images / cell(row, "ref_img", label_path, line),
                distortion=distortion,
                level=level,
            )
        )
    return records
