"""AVA-Captions (Ghosal et al., ICCVW 2019): AVA images with cleaned photo-critique comments.

One record per image listed in the captions file (formats in
:mod:`._ava_files`), with its comments in ``aesthetic_comments`` and the
file's own ``split``.  The file is ``captions`` (relative to ``root`` or
absolute) or the first known AVA-Captions file in ``root``.  Images are
``root/images/<id>.jpg`` when ``images/`` exists, else ``root/<id>.jpg`` (the
layout the captions scripts use).  If ``AVA.txt`` is in ``root`` its MOS (1..10)
is attached.
"""

from __future__ import annotations

from pathlib import Path

from ._ava_files import find_captions_file, load_comments, parse_ava_txt
from ._io import as_root
from .records import SourceRecord

SOURCE = "ava_captions"


def read_ava_captions(
    root: str | Path, captions: str | Path | None = None, image_dir: str | None = None
) -> list[SourceRecord]:
    """Records of AVA-Captions under ``root`` (see module docstring)."""
    base = as_root(root, SOURCE)
    if captions is None:
        path = find_captions_file(base)
        if path is None:
            raise ValueError(f"{SOURCE}: no AVA-Captions file (.json or AVA_Comments_Full.txt) under {base}")
    else:
        path = Path(captions).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise ValueError(f"{SOURCE}: captions file {path} does not exist")
    comments = load_comments(path)
    scores = parse_ava_txt(base / "AVA.txt") if (base / "AVA.txt").is_file() else {}
    if image_dir is not None:
        images = base / image_dir
    else:
        images = base / "images" if (base / "images").is_dir() else base
    records: list[SourceRecord] = []
    for image_id, (texts, split) in comments.items():
        mean, std = scores.get(image_id, (None, None))
        records.append(
            SourceRecord(
                image_path=images / f"{image_id}.jpg",
                source=SOURCE,
                mos=mean,
                mos_range=(1.0, 10.0) if mean is not None else None,
                mos_std=std,
                aesthetic_comments=texts,
                split=split,
            )
        )
    return records
