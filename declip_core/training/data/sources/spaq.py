"""SPAQ (Fang et al., CVPR 2020) in its official layout.

Official release: ``Annotations/MOS and Image attribute scores.xlsx`` (first
sheet, header row ``Image name, MOS, Brightness, Colorfulness, Contrast,
Noisiness, Sharpness``; MOS on 0..100) and the images in ``TestImage/``
(``00001.jpg`` .. ``11125.jpg``).  A CSV export of that sheet with the same
header, ``Annotations/MOS and Image attribute scores.csv``, is accepted too
(several public loaders convert the workbook this way).  SPAQ has no official
split.
"""

from __future__ import annotations

from pathlib import Path

from ._io import as_root, first_existing, parse_float, read_csv_rows
from ._xlsx import read_first_sheet
from .records import SourceRecord

SOURCE = "spaq"
LABEL_FILES = (
    "Annotations/MOS and Image attribute scores.xlsx",
    "Annotations/MOS and Image attribute scores.csv",
)
NAME_COLUMN, MOS_COLUMN = "Image name", "MOS"


def read_spaq(root: str | Path, image_dir: str = "TestImage") -> list[SourceRecord]:
    """Records of SPAQ under ``root`` (see module docstring for the layout)."""
    base = as_root(root, SOURCE)
    label_path = first_existing(base, LABEL_FILES, SOURCE)
    rows = _xlsx_rows(label_path) if label_path.suffix == ".xlsx" else read_csv_rows(
        label_path, [NAME_COLUMN, MOS_COLUMN]
    )
    images = base / image_dir
    records: list[SourceRecord] = []
    for line, row in rows:
        name = (row.get(NAME_COLUMN) or "").strip()
        mos_text = (row.get(MOS_COLUMN) or "").strip()
        if not name and not mos_text:
            continue  # trailing blank spreadsheet row
        if not name:
            raise ValueError(f"{label_path}:{line}: column {NAME_COLUMN!r} is empty")
        records.append(
            SourceRecord(
                image_path=images / name,
                source=SOURCE,
                mos=parse_float(mos_text, label_path, line, MOS_COLUMN),
                mos_range=(0.0, 100.0),
            )
        )
    return records


def _xlsx_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Header-keyed rows of the workbook's first sheet, with 1-based row numbers."""
    table = read_first_sheet(path)
    if not table:
        raise ValueError(f"{path}: first sheet is empty, expected a header row")
    header = [name.strip() for name in table[0]]
    absent = [name for name in (NAME_COLUMN, MOS_COLUMN) if name not in header]
    if absent:
        raise ValueError(f"{path}: missing column(s) {absent}; header has {header}")
    return [
        (number, {key: (values[i] if i < len(values) else "") for i, key in enumerate(header)})
        for number, values in enumerate(table[1:], start=2)
    ]
