"""Captioned images for adapter training: a built I&2T set, or a folder with `metadata.jsonl`.

An I&2T set (docs/i2t.md; shards with metadata.parquet) is read with its `train` split: the
semantic text is the prompt, the perceptual text is kept for phrase conditioning.
A plain folder has a `metadata.jsonl`; each line:
    {"file_name": "img/001.jpg", "text": "a red car on a road",
     "perceptual_text": "sharp, slightly underexposed"}   # perceptual_text optional
`text` is the prompt the diffusion model sees; `perceptual_text` (the perceptual half of an
I&2T pair) lets training sometimes condition on the phrase's embedding instead of the image's.
This is the Hugging Face `imagefolder` layout, so such a folder also loads with `datasets`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from declip_core.io import load_image
from declip_core.training.data.jsonl import jsonl_rows
from declip_core.transforms import pil_to_tensor01

METADATA_FILE = "metadata.jsonl"


@dataclass(frozen=True)
class CaptionedImage:
    path: Path
    text: str
    perceptual_text: str


def read_i2t_set(root: str | Path) -> list[CaptionedImage]:
    """The `train` rows of a built I&2T set: semantic text as prompt, perceptual text kept."""
    from declip_core.training.data.manifest import read_manifest

    rows = read_manifest(root, splits=["train"])
    out = [CaptionedImage(path=r.path, text=str(r["semantic_text"] or ""), perceptual_text=str(r["perceptual_text"] or ""))
           for r in rows]
    if not out:
        raise ValueError(f"{root}: the I&2T set has no 'train' rows")
    return out


def read_captioned_folder(root: str | Path) -> list[CaptionedImage]:
    """Records of `<root>/metadata.jsonl`, or of the I&2T set at root; ValueError naming what is wrong."""
    root = Path(root)
    meta = root / METADATA_FILE
    if not meta.is_file() and any(root.glob("*/metadata.parquet")):
        return read_i2t_set(root)
    if not meta.is_file():
        raise ValueError(f"{root}: neither a {METADATA_FILE} (one JSON object per line with file_name and text) "
                         "nor an I&2T set (shards with metadata.parquet)")
    out: list[CaptionedImage] = []
    for i, row in jsonl_rows(meta):
        if not isinstance(row, dict) or not isinstance(row.get("file_name"), str) or not isinstance(row.get("text"), str):
            raise ValueError(f"{meta}:{i}: needs string fields 'file_name' and 'text'")
        ptext = row.get("perceptual_text", "")
        if not isinstance(ptext, str):
            raise ValueError(f"{meta}:{i}: 'perceptual_text' must be a string")
        path = root / row["file_name"]
        if not path.is_file():
            raise ValueError(f"{meta}:{i}: image {path} not found")
        out.append(CaptionedImage(path=path, text=row["text"], perceptual_text=ptext))
    if not out:
        raise ValueError(f"{meta}: no records")
    return out


def load_square01(path: Path, size: int) -> torch.Tensor:
    """Image file -> (3, size, size) in 0..1: shorter side resized to `size`, centre crop."""
    im = load_image(path)  # the one decoder: EXIF rotation, alpha on white, 16-bit, CMYK
    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    im = im.crop((left, top, left + size, top + size))
    return pil_to_tensor01(im)


class CaptionedImageDataset(Dataset):
    """Items: {"image": (3, R, R) in 0..1, "text": str, "perceptual_text": str}."""

    def __init__(self, root: str | Path, resolution: int) -> None:
        if resolution < 8 or resolution % 8:
            raise ValueError(f"resolution must be a positive multiple of 8, got {resolution}")
        self.records = read_captioned_folder(root)
        self.resolution = resolution

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, object]:
        r = self.records[i]
        return {"image": load_square01(r.path, self.resolution), "text": r.text, "perceptual_text": r.perceptual_text}
