"""Resumable result tables: rows are written as they come, a rerun skips what is already written.

While a run is going, rows go to `<out>.parts/part-NNNNNN.parquet`, each a complete Parquet file written
atomically (temporary name, then `os.replace`) every `flush_rows` rows or `flush_seconds` seconds and
when the run is interrupted (Ctrl-C, SIGTERM). A crash loses at most the rows since the last flush.
When the inputs are exhausted, `finish()` streams the existing `<out>` (if any) and the parts, in
order, into `<out>` (Parquet in row groups of `row_group_rows`, CSV, or JSON lines; written under a
temporary name and renamed) and removes the parts folder. Since rows are written in input order, the
rows present after an interruption are a prefix of the inputs, so a resumed run's final file holds the
same rows in the same order as an uninterrupted run's.

Resume: `done()` returns the keys already in `<out>` and its parts as a `DoneSet` (8-byte hashes and
counts in NumPy arrays: about 16 bytes per written row, never Python strings).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

_HERE = "declip_core/scoring/sink.py"
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def key_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little")


class DoneSet:
    """A multiset of already-written keys: take(key) is True (and uses one occurrence) when key was written."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        chunks, buf = [], []
        for k in keys:
            buf.append(key_hash(k))
            if len(buf) >= 65536:
                chunks.append(np.asarray(buf, dtype=np.uint64))
                buf = []
        chunks.append(np.asarray(buf, dtype=np.uint64))
        self.hashes, counts = np.unique(np.concatenate(chunks), return_counts=True)
        self.counts = counts.astype(np.int64)
        self.total = int(self.counts.sum())

    def __len__(self) -> int:
        return self.total

    def take(self, key: str) -> bool:
        if not self.total:
            return False
        h = np.uint64(key_hash(key))
        i = int(np.searchsorted(self.hashes, h))
        if i < len(self.hashes) and self.hashes[i] == h and self.counts[i] > 0:
            self.counts[i] -= 1
            return True
        return False


def output_format(out: str | Path, fmt: str | None = None) -> str:
    """'parquet', 'csv' or 'jsonl' from fmt or the file suffix; ValueError otherwise."""
    if fmt is not None:
        if fmt not in ("parquet", "csv", "jsonl"):
            raise ValueError(f"output format must be parquet, csv or jsonl, got {fmt!r}")
        return fmt
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{out}: cannot tell the output format from the suffix {suffix!r}; use .parquet, .csv or "
                         ".jsonl (or --format)")
    return FORMATS[suffix]


def read_batches(path: str | Path, fmt: str, schema: Any) -> Iterator[Any]:
    """Stream a result table written by this module as pyarrow RecordBatches of `schema`."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        if pf.schema_arrow.names != schema.names:
            raise ValueError(f"{path}: has columns {pf.schema_arrow.names}, this run writes {schema.names}; "
                             "pass --overwrite or another --out")
        for b in pf.iter_batches(batch_size=65536):
            yield b.cast(schema) if b.schema != schema else b
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        with open(path, encoding="utf-8") as fh:
            header = fh.readline().strip()
        names = [c.strip('"') for c in header.split(",")] if header else []
        if names != schema.names:
            raise ValueError(f"{path}: has columns {names}, this run writes {schema.names}; "
                             "pass --overwrite or another --out")
        conv = pcsv.ConvertOptions(column_types={f.name: f.type for f in schema}, strings_can_be_null=True,
                                   quoted_strings_can_be_null=False)
        reader = pcsv.open_csv(path, convert_options=conv, read_options=pcsv.ReadOptions(block_size=1 << 22))
        for b in reader:
            yield b
    else:
        rows: list[dict[str, Any]] = []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if not line.strip():
                    continue
                row = json.loads(line)
                if n == 0 and list(row) != schema.names:
                    raise ValueError(f"{path}: has columns {list(row)}, this run writes {schema.names}; "
                                     "pass --overwrite or another --out")
                rows.append(row)
                if len(rows) >= 65536:
                    yield pa.RecordBatch.from_pylist(rows, schema=schema)
                    rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)


class ResultSink:
    """Rows (dicts with the schema's columns) -> a resumable table at `out`; see the module docstring.

    Raises ValueError for an unknown format, a CSV with list columns, or an existing output whose columns
    differ from this run's (unless overwrite=True, which deletes it and its parts first).
    """

    def __init__(self, out: str | Path, schema: Any, fmt: str | None = None, flush_rows: int = 4096,
                 flush_seconds: float = 30.0, row_group_rows: int = 65536, overwrite: bool = False) -> None:
        import pyarrow as pa

        self.out = Path(out)
        self.fmt = output_format(out, fmt)
        self.schema = schema
        if self.fmt == "csv" and any(pa.types.is_list(f.type) for f in schema):
            raise ValueError(f"{out}: CSV cannot hold the embedding column; write .parquet or .jsonl")
        if flush_rows < 1 or row_group_rows < 1:
            raise ValueError(f"{_HERE}: flush_rows and row_group_rows must be >= 1")
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.flush_rows, self.flush_seconds, self.row_group_rows = flush_rows, flush_seconds, row_group_rows
        if overwrite:
            self.out.unlink(missing_ok=True)
            shutil.rmtree(self.parts, ignore_errors=True)
        self.parts.mkdir(parents=True, exist_ok=True)
        for t in self.parts.glob("*.tmp"):  # a write cut short by a crash
            t.unlink()
        self._buf: list[dict[str, Any]] = []
        self._last = time.monotonic()
        self._next = 1 + max((int(p.stem.split("-")[1]) for p in self._part_files()), default=0)
        self.written = 0

    def _part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet"))

    def _sources(self) -> list[tuple[Path, str]]:
        src = [(self.out, self.fmt)] if self.out.is_file() else []
        return src + [(p, "parquet") for p in self._part_files()]

    def done(self) -> DoneSet:
        """Keys already written (in <out> and its parts)."""
        def keys() -> Iterator[str]:
            for path, fmt in self._sources():
                for b in read_batches(path, fmt, self.schema):
                    yield from (str(k) for k in b.column(0).to_pylist())
        return DoneSet(keys())

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self._buf.extend(rows)
        if len(self._buf) >= self.flush_rows or time.monotonic() - self._last >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one part file (atomically)."""
        self._last = time.monotonic()
        if not self._buf:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self._buf, schema=self.schema)
        name = self.parts / f"part-{self._next:06d}.parquet"
        tmp = name.with_suffix(".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, name)
        self._next += 1
        self.written += len(self._buf)
        self._buf = []

    def finish(self) -> Path:
        """Flush, then merge <out> and the parts into <out> and remove the parts folder. Returns <out>."""
        self.flush()
        parts = self._part_files()
        if parts or not self.out.is_file():
            tmp = self.out.with_name(self.out.name + ".tmp")
            self._write_final(tmp, self._rechunk(b for path, fmt in self._sources()
                                                 for b in read_batches(path, fmt, self.schema)))
            os.replace(tmp, self.out)
        shutil.rmtree(self.parts, ignore_errors=True)
        return self.out

    def _rechunk(self, batches: Iterable[Any]) -> Iterator[Any]:
        """Batches of exactly row_group_rows rows (the last one shorter): the same final file whatever the
        part boundaries were."""
        import pyarrow as pa

        pending: list[Any] = []
        n = 0
        for b in batches:
            pending.append(b)
            n += b.num_rows
            while n >= self.row_group_rows:
                t = pa.Table.from_batches(pending, schema=self.schema)
                yield from t.slice(0, self.row_group_rows).combine_chunks().to_batches()
                rest = t.slice(self.row_group_rows)
                pending, n = rest.to_batches(), rest.num_rows
        if n:
            yield from pa.Table.from_batches(pending, schema=self.schema).combine_chunks().to_batches()

    def _write_final(self, path: Path, batches: Iterable[Any]) -> None:
        import pyarrow as pa

        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            with pq.ParquetWriter(path, self.schema) as w:
                for b in batches:
                    w.write_table(pa.Table.from_batches([b], schema=self.schema), row_group_size=self.row_group_rows)
        elif self.fmt == "csv":
            import pyarrow.csv as pcsv

            with pcsv.CSVWriter(path, self.schema) as w:
                for b in batches:
                    w.write_batch(b)
        else:
            with open(path, "w", encoding="utf-8") as fh:
                for b in batches:
                    for row in b.to_pylist():
                        fh.write(json.dumps(row) + "\n")
