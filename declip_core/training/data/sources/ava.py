"""AVA (Murray et al., CVPR 2012) in its official layout, optionally with AVA-Captions comments.

Layout under ``root``: ``AVA.txt``, optional ``aesthetics_image_lists/``
(official train/test split) and images ``images/<id>.jpg``.  MOS is the mean
of the 1..10 rating histogram, ``mos_std`` its standard deviation.  When an
AVA-Captions file (see :mod:`._ava_files`) is named by ``captions`` or found in
``root``, its comments fill ``aesthetic_comments``.  Formats are documented in
:mod:`._ava_files`.
"""

from __future__ import annotations

from pathlib import Path

from ._ava_files import (
    find_captions_file,
    load_comments,
    parse_ava_txt,
    read_split_lists,
)
from ._io import as_root, first_existing
from .records import SourceRecord

SOURCE = "ava"


def read_ava(
    root: str | Path, image_dir: str = "images", captions: str | Path | None = None
) -> list[SourceRecord]:
    """Records of AVA under ``root``; comments from ``captions`` or an AVA-Captions file in root."""
    base = as_root(root, SOURCE)
    scores = parse_ava_txt(first_existing(base, ("AVA.txt",), SOURCE))
    splits = read_split_lists(base)
    captions_path = _captions_path(base, captions)
    comments = load_comments(captions_path) if captions_path is not None else {}
    images = base / image_dir
    return [
        SourceRecord(
            image_path=images / f"{image_id}.jpg",
            source=SOURCE,
            mos=mean,
            mos_range=(1.0, 10.0),
            mos_std=std,
            aesthetic_comments=comments.get(image_id, ((), None))[0],
            split=splits.get(image_id),
        )
        for image_id, (mean, std) in scores.items()
    ]


def _captions_path(base: Path, captions: str | Path | None) -> Path | None:
    if captions is None:
        return find_captions_file(base)
    path = Path(captions).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ValueError(f"{SOURCE}: captions file {path} does not exist")
    return path
