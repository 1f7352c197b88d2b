"""Inputs of the batch scorer, enumerated lazily (nothing is read into memory as a whole).

An input spec is one of:

* a folder: walked recursively (directory by directory, names sorted), keeping files with an image
  extension PIL knows; the others are counted as skipped;
* a glob (`photos/**/*.jpg`, expanded lazily by `glob.iglob(recursive=True)`);
* a list file: `.txt`/`.lst` (one path per line; blank lines and `#` comments ignored), `.csv`/`.tsv`
  (the column `path_column`), `.parquet` (the column `path_column`, read one record batch at a time);
* `hf:<folder>`: a Hugging Face `datasets` image folder (its `imagefolder` builder, streamed, offline;
  images not decoded by `datasets`: their files are read by the scorer);
* anything else: one image path, kept whatever it is (a missing file becomes an error row).

Paths are yielded as given (list files: as written in the file; relative paths are relative to the
current directory).
"""
from __future__ import annotations

import csv
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from declip_core.embed import EncodedImage

_HERE = "declip_core/scoring/sources.py"
LIST_SUFFIXES = (".txt", ".lst", ".csv", ".tsv", ".parquet")
_GLOB_CHARS = set("*?[")


def image_extensions() -> frozenset[str]:
    from PIL import Image

    Image.init()
    return frozenset(ext.lower() for ext in Image.registered_extensions())


@dataclass
class Skipped:
    """Counts what enumeration left out (files without an image extension inside folders/globs)."""

    not_images: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, path: str) -> None:
        self.not_images += 1
        if len(self.examples) < 5:
            self.examples.append(path)


def _walk(folder: str, exts: frozenset[str], skipped: Skipped) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(root, name)
            if os.path.splitext(name)[1].lower() in exts:
                yield p
            else:
                skipped.add(p)


def _lines(path: str) -> Iterator[str]:
    # bytes that are not UTF-8 (a file name in another encoding) pass through as surrogates: os.fsencode
    # gives the raw bytes back, so any POSIX file name can be listed
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            s = line.strip()
            if s and not s.startswith("#"):
                yield s


def _csv(path: str, column: str) -> Iterator[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t" if path.lower().endswith(".tsv") else ",")
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise ValueError(f"{path}: no column {column!r} (columns: {reader.fieldnames}); pass --path-column")
        for row in reader:
            v = (row[column] or "").strip()
            if v:
                yield v


def _parquet(path: str, column: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    if column not in pf.schema_arrow.names:
        raise ValueError(f"{path}: no column {column!r} (columns: {pf.schema_arrow.names}); pass --path-column")
    for batch in pf.iter_batches(batch_size=8192, columns=[column]):
        for v in batch.column(0).to_pylist():
            if v:
                yield str(v)


def _imagefolder_stream(folder: str) -> Any:
    """The `datasets` image-folder builder over a local folder, streamed, with no network: built directly
    rather than through `load_dataset`, whose module factory pings a download counter on the Hub (only
    environment variables turn that off, and library code does not set them)."""
    from datasets.data_files import DataFilesDict, get_data_patterns
    from datasets.packaged_modules.imagefolder.imagefolder import ImageFolder

    base = Path(folder).expanduser().resolve().as_posix()
    files = DataFilesDict.from_patterns(get_data_patterns(base), base_path=base)
    return ImageFolder(data_files=files, dataset_name="imagefolder").as_streaming_dataset(split="train")


def _hf_imagefolder(folder: str, image_column: str = "image") -> Iterator[str | EncodedImage]:
    try:
        import datasets
    except ImportError:
        raise ValueError(f"hf:{folder}: the Hugging Face `datasets` package is not installed "
                         "(pip install 'declip[train]' or pip install datasets)") from None
    if not Path(folder).is_dir():
        raise ValueError(f"hf:{folder}: not a folder")
    ds = _imagefolder_stream(folder).cast_column(image_column, datasets.Image(decode=False))
    for i, ex in enumerate(ds):
        im = ex[image_column]
        if im.get("bytes") is not None:
            yield EncodedImage(im.get("path") or f"hf:{folder}#{i}", im["bytes"])
        else:
            yield str(im["path"])


def iter_inputs(specs: Iterable[str], path_column: str = "path", skipped: Skipped | None = None
                ) -> Iterator[str | EncodedImage]:
    """Lazily yield the inputs named by the specs (see the module docstring), in order.

    Raises ValueError when a list file lacks the path column or `hf:` cannot be read (at the point of
    enumeration that reaches it)."""
    skipped = skipped if skipped is not None else Skipped()
    exts = image_extensions()
    for spec in specs:
        spec = str(spec)
        if spec.startswith("hf:"):
            yield from _hf_imagefolder(spec[3:])
        elif os.path.isdir(spec):
            yield from _walk(spec, exts, skipped)
        elif os.path.isfile(spec) and spec.lower().endswith(LIST_SUFFIXES):
            low = spec.lower()
            if low.endswith((".txt", ".lst")):
                yield from _lines(spec)
            elif low.endswith(".parquet"):
                yield from _parquet(spec, path_column)
            else:
                yield from _csv(spec, path_column)
        elif not os.path.exists(spec) and _GLOB_CHARS & set(spec):
            for p in glob.iglob(spec, recursive=True):
                if os.path.isdir(p):
                    continue
                if os.path.splitext(p)[1].lower() in exts:
                    yield p
                else:
                    skipped.add(p)
        else:
            yield spec
