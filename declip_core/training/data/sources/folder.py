"""A plain folder of images, read recursively, without labels."""

from __future__ import annotations

from pathlib import Path

from ._io import as_root
from .records import IMAGE_EXTENSIONS, SourceRecord

SOURCE = "folder"


def read_folder(root: str | Path) -> list[SourceRecord]:
    """One unlabelled record per image file under ``root`` (any depth), sorted by path."""
    base = as_root(root, SOURCE)
    paths = sorted(
        path for path in base.rglob("*") if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS
    )
    return [SourceRecord(image_path=path, source=SOURCE) for path in paths]
