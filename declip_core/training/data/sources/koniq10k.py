"""KonIQ-10k in its official layout.

Official files (https://database.mmsp-kn.de/koniq-10k-database.html and
github.com/subpic/koniq ``metadata/``), all comma-separated with a header row:

* ``koniq10k_scores_and_distributions.csv``:
  ``image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,MOS_zscore`` -- ``c1..c5`` are
  vote counts, ``MOS`` and ``SD`` are on the 1..5 rating scale, ``MOS_zscore``
  is the 0..100 rescaled score.
* ``koniq10k_distributions_sets.csv``:
  ``image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,set`` -- ``c1..c5`` are vote
  fractions, ``MOS`` here is the 0..100 score (equal to ``MOS_zscore`` above,
  e.g. 10004473376.jpg -> 77.38), ``SD`` stays on the 1..5 scale, ``set`` is
  the official split: ``training`` / ``validation`` / ``test``.
* images in ``1024x768/`` (or the half-size ``512x384/``), named ``image_name``.

With the scores file the record MOS is ``MOS`` on (1, 5) with ``SD``; with only
the sets file it is its ``MOS`` on (0, 100) and no std (its SD is on another
scale).  The ``set`` column, when available, gives ``split`` as
``train`` / ``val`` / ``test``.
"""

from __future__ import annotations

from pathlib import Path

from ._io import as_root, cell, parse_float, read_csv_rows
from .records import SourceRecord

SOURCE = "koniq10k"
SCORES_FILE = "koniq10k_scores_and_distributions.csv"
SETS_FILE = "koniq10k_distributions_sets.csv"
RESOLUTIONS = ("1024x768", "512x384")
_SPLITS = {"training": "train", "validation": "val", "test": "test"}


def read_koniq10k(root: str | Path, resolution: str = "1024x768") -> list[SourceRecord]:
    """Records of KonIQ-10k under ``root`` (see module docstring for the layout)."""
    base = as_root(root, SOURCE)
    if resolution not in RESOLUTIONS:
        raise ValueError(f"{SOURCE}: resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    scores_path, sets_path = base / SCORES_FILE, base / SETS_FILE
    if not scores_path.is_file() and not sets_path.is_file():
        raise ValueError(f"{SOURCE}: neither {SCORES_FILE} nor {SETS_FILE} found under {base}")
    splits = _read_sets(sets_path) if sets_path.is_file() else {}
    image_dir = base / resolution
    if scores_path.is_file():
        rows = read_csv_rows(scores_path, ["image_name", "MOS", "SD"])
        return [
            SourceRecord(
                image_path=image_dir / cell(row, "image_name", scores_path, line),
                source=SOURCE,
                mos=parse_float(row["MOS"], scores_path, line, "MOS"),
                mos_range=(1.0, 5.0),
                mos_std=parse_float(row["SD"], scores_path, line, "SD"),
                split=splits.get(row["image_name"].strip(), (None, None))[0],
            )
            for line, row in rows
        ]
    return [
        SourceRecord(
            image_path=image_dir / name,
            source=SOURCE,
            mos=mos,
            mos_range=(0.0, 100.0),
            split=split,
        )
        for name, (split, mos) in splits.items()
    ]


def _read_sets(path: Path) -> dict[str, tuple[str, float]]:
    """image_name -> (split, 0..100 MOS) from the official sets file."""
    result: dict[str, tuple[str, float]] = {}
    for line, row in read_csv_rows(path, ["image_name", "MOS", "set"]):
        name = cell(row, "image_name", path, line)
        official = cell(row, "set", path, line)
        if official not in _SPLITS:
            raise ValueError(f"{path}:{line}: unknown set {official!r}, expected {sorted(_SPLITS)}")
        result[name] = (_SPLITS[official], parse_float(row["MOS"], path, line, "MOS"))
    return result
