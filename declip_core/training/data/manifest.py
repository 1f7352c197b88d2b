"""The I&2T manifest: one row per image, stored as `metadata.parquet` beside the image files of
each shard, so `datasets.load_dataset("imagefolder", data_dir=...)` opens a built set as is."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

# Column -> meaning. Every builder writes all of them (None where unknown).
COLUMNS: dict[str, str] = {
    "file_name": "image file, relative to the shard folder (Hugging Face imagefolder convention)",
    "sample_id": "sha256 of the stored image file (also the de-duplication key)",
    "source": "where the photo came from (e.g. 'samples', 'folder', 'koniq10k')",
    "photo_id": "content group: the undistorted source photo this sample derives from",
    "perceptual_text": "how the image looks; never names content",
    "semantic_text": "what the image shows; never carries quality words",
    "text_origin": "distortion | attributes | mos | aesthetic | aesthetic_negative | human",
    "perc_key": "canonical perceptual condition (positives in the contrastive loss share it)",
    "distortions": "JSON list of [name, level] applied to the photo ('[]' for clean)",
    "quality": "derived technical-quality target in 0..1 (1 = pristine), NaN when unknown",
    "mos": "normalised MOS in 0..1 (higher better) when the source has one, else NaN",
    "aesthetic": "normalised aesthetic score in 0..1 when known, else NaN",
    "weak": "True for weak labels (offline aesthetic negatives)",
    "split": "'train' or 'heldout' (held-out photos or distortion types); gathered photos: 'train' | 'val' | 'test'",
}

# Columns a builder may add (read when present, never required, so older sets still open).
EXTRA_COLUMNS: dict[str, str] = {
    "crop_id": "the pristine crop this sample derives from (gathered photos), else ''",
    "source_path": "absolute path of the pristine image the sample was rendered from (the FR reference)",
    "ladder": "severity ladder id '<crop_id>|<type>' when the sample is one level of a full 1..5 ladder, else ''",
    "pseudo_mos": "pseudo opinion score in 0..1 (1 = pristine) from calibrated FR metrics, NaN until labelled",
}


@dataclass(frozen=True)
class Row:
    """One manifest row with the absolute image path resolved."""

    path: Path
    data: dict[str, Any]

    def __getitem__(self, k: str) -> Any:
        return self.data[k]

    @property
    def chain(self) -> list[tuple[str, int]]:
        return [(str(n), int(lv)) for n, lv in json.loads(self.data["distortions"] or "[]")]


def shard_dirs(root: str | Path) -> list[Path]:
    """Finished shard folders of a built set, in order."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: no such I&2T folder")
    # `<shard>.partial/` is a shard still being written (or interrupted): never part of the set.
    return sorted(p.parent for p in root.glob("*/metadata.parquet") if not p.parent.name.endswith(".partial"))


def read_manifest(root: str | Path, splits: Sequence[str] | None = None) -> list[Row]:
    """All rows of a built I&2T set (optionally only some splits)."""
    import pyarrow.parquet as pq

    rows: list[Row] = []
    shards = shard_dirs(root)
    if not shards:
        raise ValueError(f"{root}: holds no shard with a metadata.parquet; build it with training/build_i2t.py")
    for d in shards:
        table = pq.read_table(d / "metadata.parquet")
        missing = set(COLUMNS) - set(table.column_names)
        if missing:
            raise ValueError(f"{d / 'metadata.parquet'}: missing columns {sorted(missing)}")
        for rec in table.to_pylist():
            if splits is None or rec["split"] in splits:
                rows.append(Row(d / rec["file_name"], rec))
    return rows
