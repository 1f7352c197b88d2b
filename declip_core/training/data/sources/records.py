"""The common record type every dataset reader returns, and the image check.

Missing images: readers never look at the image files (reading is fast and the
label files are the source of truth); they return one record per labelled
image, present or not.  Call :func:`check_images` to split the records into
the ones whose file exists and a ``(path, reason)`` list for the rest, and
decide what to do with the latter (report, fail, or drop explicitly).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
)


@dataclass(frozen=True)
class SourceRecord:
    """One labelled image from a dataset on disk.

    ``mos`` is kept on the dataset's own scale, described by ``mos_range`` and
    ``lower_better`` (True for DMOS-style scales); :meth:`normalized_mos` maps
    it to 0..1, higher better.
    """

    image_path: Path
    source: str
    mos: float | None = None
    mos_range: tuple[float, float] | None = None
    mos_std: float | None = None
    lower_better: bool = False
    perceptual_text: str | None = None
    aesthetic_comments: tuple[str, ...] = ()
    semantic_text: str | None = None
    ref_image_path: Path | None = None
    distortion: str | None = None
    level: int | None = None
    split: str | None = None
    photo_id: str | None = None  # content group when the file is a crop of a larger photo
    crop_id: str | None = None  # the crop's id within the collection (gathered photos)

    def __post_init__(self) -> None:
        if not isinstance(self.image_path, Path):
            raise ValueError(f"image_path must be a pathlib.Path, got {self.image_path!r}")
        if not self.image_path.is_absolute():
            raise ValueError(f"image_path must be absolute, got {self.image_path}")
        if self.mos is not None and not math.isfinite(self.mos):
            raise ValueError(f"{self.image_path}: MOS is not a finite number ({self.mos!r})")
        if self.mos_range is not None:
            low, high = self.mos_range
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"{self.image_path}: invalid mos_range {self.mos_range!r}")
        if not isinstance(self.aesthetic_comments, tuple):
            raise ValueError(f"{self.image_path}: aesthetic_comments must be a tuple")

    def normalized_mos(self) -> float | None:
        """MOS mapped to 0..1 (higher better), clipped; None without MOS or scale."""
        if self.mos is None or self.mos_range is None:
            return None
        low, high = self.mos_range
        value = (self.mos - low) / (high - low)
        if self.lower_better:
            value = 1.0 - value
        return min(1.0, max(0.0, value))


def check_images(
    records: Iterable[SourceRecord],
) -> tuple[list[SourceRecord], list[tuple[Path, str]]]:
    """Split records into those whose image file exists and ``(path, reason)`` for the rest.

    The reference image of a record (KADID) is checked too; a record is only
    "present" when all of its files exist.
    """
    present: list[SourceRecord] = []
    missing: list[tuple[Path, str]] = []
    for record in records:
        problem = _problem(record.image_path, "image")
        if problem is None and record.ref_image_path is not None:
            problem = _problem(record.ref_image_path, "reference image")
        if problem is None:
            present.append(record)
        else:
            missing.append(problem)
    return present, missing


def _problem(path: Path, what: str) -> tuple[Path, str] | None:
    if path.is_file():
        return None
    if path.exists():
        return path, f"{what} path exists but is not a file"
    if not path.parent.is_dir():
        return path, f"{what} folder {path.parent} does not exist"
    return path, f"{what} file does not exist"
