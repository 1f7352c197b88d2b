"""AGIQA-3K (Li et al., 2023) in its official layout.

Official files (github.com/lcysyzxdxc/AGIQA-3k-Database): ``data.csv`` with
header ``name,prompt,adj1,adj2,style,mos_quality,std_quality,mos_align,std_align``
(comma-separated, prompts containing commas are double-quoted; both MOS are on
0..5, higher better) and the 2982 generated images from the release archive,
which users keep in ``AGIQA-3K/``, ``images/`` or next to ``data.csv``.  The
first of those folders that exists is used unless ``image_dir`` is given.  The
prompt becomes ``semantic_text``.  No official split.
"""

from __future__ import annotations

from pathlib import Path

from ._io import as_root, cell, first_existing, parse_float, read_csv_rows
from .records import SourceRecord

SOURCE = "agiqa3k"
LABEL_FILE = "data.csv"
IMAGE_DIRS = ("AGIQA-3K", "images")
_TARGETS = {"quality": ("mos_quality", "std_quality"), "align": ("mos_align", "std_align")}


def read_agiqa3k(
    root: str | Path, target: str = "quality", image_dir: str | None = None
) -> list[SourceRecord]:
    """Records of AGIQA-3K; ``target`` picks the perceptual-quality or alignment MOS."""
    base = as_root(root, SOURCE)
    if target not in _TARGETS:
        raise ValueError(f"{SOURCE}: target must be one of {sorted(_TARGETS)}, got {target!r}")
    mos_column, std_column = _TARGETS[target]
    label_path = first_existing(base, (LABEL_FILE,), SOURCE)
    images = base / image_dir if image_dir is not None else _default_image_dir(base)
    rows = read_csv_rows(label_path, ["name", "prompt", mos_column, std_column])
    return [
        SourceRecord(
            image_path=images / cell(row, "name", label_path, line),
            source=SOURCE,
            mos=parse_float(row[mos_column], label_path, line, mos_column),
            mos_range=(0.0, 5.0),
            mos_std=parse_float(row[std_column], label_path, line, std_column),
            semantic_text=(row["prompt"] or "").strip() or None,
        )
        for line, row in rows
    ]


def _default_image_dir(base: Path) -> Path:
    for name in IMAGE_DIRS:
        if (base / name).is_dir():
            return base / name
    return base
