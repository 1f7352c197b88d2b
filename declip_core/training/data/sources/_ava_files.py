"""Parsers for the AVA label files and the AVA-Captions comment files.

* ``AVA.txt`` (AVA June 2012 release README): one image per line, 15
  space-separated columns, no header: index, image id, counts of ratings
  1..10 (columns 3-12), two semantic tag ids, challenge id.  Images are
  ``<image id>.jpg``.  MOS is the mean of the 1..10 rating histogram.
* ``aesthetics_image_lists/generic_ls_train.jpgl`` and ``generic_test.jpgl``:
  one image id per line, the official large-scale train/test split.
* AVA-Captions (Ghosal et al., ICCVW 2019, github.com/V-Sense/
  Aesthetic-Image-Captioning-ICCVW-2019): ``CLEAN_AVA_FULL_AFTER_SUBJECTIVE_CLEANING.json``
  (the dataset) or ``CLEAN_AVA_FULL_COMMENTS.json``, COCO/Karpathy style
  ``{"dataset": "AVA", "images": [{"filename": "<id>.jpg", "imgid": <id>,
  "split": "train"|"val"|"test", "sentences": [{"raw": ..., "clean": ...,
  "tokens": [...]}, ...]}, ...]}``; and the raw ``AVA_Comments_Full.txt``,
  one image per line as ``index#image id#comment#comment...``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

CAPTION_FILES = (
    "CLEAN_AVA_FULL_AFTER_SUBJECTIVE_CLEANING.json",
    "CLEAN_AVA_FULL_COMMENTS.json",
    "AVA_Comments_Full.txt",
)
SPLIT_LISTS = {
    "aesthetics_image_lists/generic_ls_train.jpgl": "train",
    "aesthetics_image_lists/generic_test.jpgl": "test",
}


def parse_ava_txt(path: Path) -> dict[str, tuple[float, float]]:
    """image id -> (mean rating on 1..10, rating std) from ``AVA.txt``."""
    result: dict[str, tuple[float, float]] = {}
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 15:
                raise ValueError(f"{path}:{line_number}: expected 15 space-separated columns, got {len(fields)}")
            try:
                counts = [int(value) for value in fields[2:12]]
            except ValueError:
                raise ValueError(f"{path}:{line_number}: rating counts (columns 3-12) must be integers") from None
            total = sum(counts)
            if total <= 0 or min(counts) < 0:
                raise ValueError(f"{path}:{line_number}: rating counts {counts} have no votes or negatives")
            mean = sum(score * count for score, count in enumerate(counts, start=1)) / total
            variance = sum(count * (score - mean) ** 2 for score, count in enumerate(counts, start=1)) / total
            result[fields[1]] = (mean, math.sqrt(variance))
    return result


def read_split_lists(root: Path) -> dict[str, str]:
    """image id -> "train"/"test" from the official aesthetics lists, if present."""
    splits: dict[str, str] = {}
    for relative, split in SPLIT_LISTS.items():
        path = root / relative
        if path.is_file():
            for image_id in path.read_text(encoding="utf-8").split():
                splits[image_id] = split
    return splits


def find_captions_file(root: Path) -> Path | None:
    """First known AVA-Captions file under ``root``."""
    for name in CAPTION_FILES:
        if (root / name).is_file():
            return root / name
    return None


def load_comments(path: Path) -> dict[str, tuple[tuple[str, ...], str | None]]:
    """image id -> (comments, split or None) from an AVA-Captions JSON or the raw .txt."""
    if path.suffix.lower() == ".txt":
        return _load_raw_comments(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: invalid JSON ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{path}: expected an object with an 'images' list (AVA-Captions format)")
    result: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for position, entry in enumerate(data["images"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            raise ValueError(f"{path}: images[{position}] has no 'filename' string")
        sentences = entry.get("sentences", [])
        if not isinstance(sentences, list):
            raise ValueError(f"{path}: images[{position}].sentences is not a list")
        comments = tuple(
            text for text in (_sentence_text(s, path, position) for s in sentences) if text
        )
        split = entry.get("split")
        result[Path(entry["filename"]).stem] = (comments, split if isinstance(split, str) else None)
    return result


def _sentence_text(sentence: object, path: Path, position: int) -> str:
    if not isinstance(sentence, dict):
        raise ValueError(f"{path}: images[{position}] has a sentence that is not an object")
    text = sentence.get("raw", sentence.get("clean", ""))
    if not isinstance(text, str):
        raise ValueError(f"{path}: images[{position}] has a non-text sentence {text!r}")
    return text.strip()


def _load_raw_comments(path: Path) -> dict[str, tuple[tuple[str, ...], str | None]]:
    result: dict[str, tuple[tuple[str, ...], str | None]] = {}
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            fields = line.rstrip("\n").split("#")
            if len(fields) < 2 or not fields[1].strip():
                if line.strip():
                    raise ValueError(f"{path}:{line_number}: expected 'index#image id#comment#...'")
                continue
            comments = tuple(text.strip() for text in fields[2:] if text.strip())
            result[fields[1].strip()] = (comments, None)
    return result
