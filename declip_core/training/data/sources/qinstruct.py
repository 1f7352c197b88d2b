"""Q-Instruct / Q-Pathway perceptual descriptions (Wu et al., CVPR 2024).

Official release (huggingface.co/datasets/teowu/Q-Instruct, used by
github.com/Q-Future/Q-Instruct ``scripts/*``): ``cleaned_labels.json`` plus
``q-instruct-images.tar`` extracted next to it (folders ``spaq_koniq/`` and
``livefb_liveitw_aigc/``).  The JSON is a list in the LLaVA instruction
format: ``{"id": ..., "image": "<path relative to the data folder>",
"conversations": [{"from": "human", "value": "<image>\\n..."},
{"from": "gpt", "value": "..."}, ...]}``.  The Q-Pathway descriptions are the
long ``gpt`` answers; question-answer entries have short answers.

One record per entry that has an ``image`` (text-only entries, e.g. after
merging with LLaVA's mix665k, carry no image and are skipped).
``perceptual_text`` is the entry's longest ``gpt`` answer; ``min_words`` keeps
only entries whose answer has at least that many words (e.g. 20 to keep the
descriptions and drop yes/no and multiple-choice answers).  The file is
``labels`` (relative to ``root`` or absolute), default ``cleaned_labels.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._io import as_root
from .records import SourceRecord

SOURCE = "qinstruct"
LABEL_FILE = "cleaned_labels.json"


def read_qinstruct(
    root: str | Path, labels: str | Path = LABEL_FILE, min_words: int = 0
) -> list[SourceRecord]:
    """Records with perceptual descriptions from a Q-Instruct style JSON under ``root``."""
    base = as_root(root, SOURCE)
    if min_words < 0:
        raise ValueError(f"{SOURCE}: min_words must be >= 0, got {min_words}")
    path = Path(labels).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ValueError(f"{SOURCE}: label file {path} does not exist")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: invalid JSON ({error})") from error
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of LLaVA-style entries")
    records: list[SourceRecord] = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: entry {position} is not an object")
        image = entry.get("image")
        if image is None:
            continue  # text-only conversation, no image to describe
        if not isinstance(image, str) or not image.strip():
            raise ValueError(f"{path}: entry {position} has a non-path 'image' {image!r}")
        text = _longest_answer(entry.get("conversations"), path, position)
        if len(text.split()) < min_words:
            continue
        records.append(
            SourceRecord(image_path=base / image.strip(), source=SOURCE, perceptual_text=text)
        )
    return records


def _longest_answer(conversations: object, path: Path, position: int) -> str:
    if not isinstance(conversations, list):
        raise ValueError(f"{path}: entry {position} has no 'conversations' list")
    answers = []
    for turn in conversations:
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise ValueError(f"{path}: entry {position} has a turn without a text 'value'")
        if turn.get("from") == "gpt":
            answers.append(turn["value"].strip())
    if not answers or not max(answers, key=len):
        raise ValueError(f"{path}: entry {position} has no non-empty 'gpt' answer")
    return max(answers, key=len)
