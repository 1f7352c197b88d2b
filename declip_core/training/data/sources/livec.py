"""LIVE In the Wild Image Quality Challenge (CLIVE) in its official layout.

Official release ``ChallengeDB_release/`` (live.ece.utexas.edu): MATLAB files
``Data/AllImages_release.mat`` (variable ``AllImages_release``, a 1169x1 cell
of file names), ``Data/AllMOS_release.mat`` (``AllMOS_release``, 1x1169 MOS on
0..100) and ``Data/AllStdDev_release.mat`` (``AllStdDev_release``, 1x1169),
images in ``Images/``.  The first 7 entries are the practice images kept in
``Images/trainingImages/``; the usual protocol drops them (``[7:1169]``, 1162
images), which is the default here.  No official split.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.io

from ._io import as_root
from .records import SourceRecord

SOURCE = "livec"
N_PRACTICE = 7


def read_livec(root: str | Path, include_practice: bool = False) -> list[SourceRecord]:
    """Records of LIVE Challenge under ``root`` (see module docstring for the layout)."""
    base = as_root(root, SOURCE)
    names = [_cell_text(item, base) for item in _load(base / "Data" / "AllImages_release.mat", "AllImages_release")]
    mos = _load(base / "Data" / "AllMOS_release.mat", "AllMOS_release")
    std_path = base / "Data" / "AllStdDev_release.mat"
    std = _load(std_path, "AllStdDev_release") if std_path.is_file() else None
    if len(mos) != len(names) or (std is not None and len(std) != len(names)):
        raise ValueError(
            f"{SOURCE}: {base / 'Data'} has {len(names)} names but {len(mos)} MOS"
            + ("" if std is None else f" and {len(std)} std values")
        )
    start = 0 if include_practice else min(N_PRACTICE, len(names))
    records: list[SourceRecord] = []
    for index in range(start, len(names)):
        value = float(mos[index])
        if not math.isfinite(value):
            raise ValueError(f"{SOURCE}: AllMOS_release[{index}] is not finite ({value})")
        folder = base / "Images" / ("trainingImages" if index < N_PRACTICE else "")
        records.append(
            SourceRecord(
                image_path=folder / names[index],
                source=SOURCE,
                mos=value,
                mos_range=(0.0, 100.0),
                mos_std=None if std is None else float(std[index]),
            )
        )
    return records


def _load(path: Path, variable: str) -> np.ndarray:
    """The named MATLAB variable, flattened."""
    if not path.is_file():
        raise ValueError(f"{SOURCE}: label file {path} does not exist")
    try:
        content = scipy.io.loadmat(str(path))
    except (ValueError, NotImplementedError, OSError) as error:
        raise ValueError(f"{path}: cannot read MATLAB file ({error})") from error
    if variable not in content:
        found = sorted(key for key in content if not key.startswith("__"))
        raise ValueError(f"{path}: variable {variable!r} not found; file has {found}")
    return np.asarray(content[variable]).ravel()


def _cell_text(item: object, base: Path) -> str:
    """File name stored in one MATLAB cell (a 1-element char array)."""
    values = np.asarray(item).ravel()
    if values.size != 1 or not isinstance(values[0], str) or not values[0].strip():
        raise ValueError(f"{SOURCE}: {base / 'Data' / 'AllImages_release.mat'} holds a non-name cell {item!r}")
    return values[0].strip()
