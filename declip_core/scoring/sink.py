"""Resumable, crash-safe result tables: rows are written as they come, a rerun skips what is already written.

Guarantees (docs/scale.md): one writer per output, and each input exactly once in the final table whatever
point a run is killed at, once a later run of the same command has finished.

* One run per output: `<out>.lock` is held (an advisory `flock` through `filelock`) from the start to the
  end of a run; a second run on the same `<out>` gets `OutputLocked` at once. The kernel drops the lock
  when its holder dies, so a crashed run never blocks the next one (the lock file itself stays).
* While a run is going, rows go to `<out>.parts/part-SEQ-RUN.parquet` (SEQ counts across runs, RUN names
  the run), each a complete Parquet file written under a temporary name, fsync'ed, then renamed, every
  `flush_rows` rows or `flush_seconds` seconds and when the run is interrupted. A crash loses at most the
  rows since the last flush. A part that cannot be read (what a power cut can leave) is moved to
  `<out>.corrupt/`, named in `set_aside`, and its inputs are scored again.
* `finish()` merges `<out>` (if any) and the parts in order into `<out>.parts/merged` (fsync'ed), then
  removes the parts, renames the merged file to `<out>` and removes the parts folder. A run that finds
  `<out>.parts/merged` completes those steps before anything else, so a crash at any step of the merge
  neither loses nor duplicates a row.
* Failed inputs are retried: rows with an `error` do not count as done, and a later run's row for the same
  input replaces the error row in place (one for one), so the table keeps input order.
* File names that are not valid UTF-8 (any byte string on POSIX) are stored losslessly: `path` holds a
  display string (undecodable bytes as \\xNN) and `path_raw` the hex of the raw bytes (null for valid
  UTF-8 names); resume uses the raw bytes.

Resume: `done()` returns the inputs already scored without error as a `DoneSet` (8-byte hashes and counts
in NumPy arrays: about 16 bytes per written row, never Python strings). Keys: declip_core.scoring.keys;
which row goes where at the merge: declip_core.scoring.merge_plan.
"""
from __future__ import annotations

import collections
import errno
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from declip_core.scoring.keys import (  # noqa: F401  (DoneSet, key_hash, display_key: part of this module's API)
    PATH_RAW,
    DoneSet,
    display_key,
    key_hash,
    key_hashes,
    storable_rows,
    stored_key,
    with_path_raw,
)
from declip_core.scoring.merge_plan import MergePlan

_HERE = "declip_core/scoring/sink.py"
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_PART = re.compile(r"part-(\d+)(?:-([0-9a-z]+))?\.parquet$")
MERGED = "merged"  # <out>.parts/merged: a finished merge not yet renamed to <out>


class OutputLocked(RuntimeError):
    """Another run is writing the same output (its lock is held)."""


class OutputError(OSError):
    """The output could not be written (disk full, quota, permissions, I/O error); names the file."""


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


def _conform(b: Any, schema: Any) -> Any:
    """A batch of an older table without `path_raw` gets the column (all null)."""
    import pyarrow as pa

    if PATH_RAW in schema.names and PATH_RAW not in b.schema.names:
        b = pa.RecordBatch.from_arrays(list(b.columns) + [pa.nulls(b.num_rows, pa.string())],
                                       names=list(b.schema.names) + [PATH_RAW])
    return b.cast(schema) if b.schema != schema else b


def _check_names(path: str | Path, names: list[str], schema: Any) -> None:
    if names != schema.names and names + [PATH_RAW] != schema.names:
        raise ValueError(f"{path}: has columns {names}, this run writes {schema.names}; "
                         "pass --overwrite or another --out")


def read_batches(path: str | Path, fmt: str, schema: Any) -> Iterator[Any]:
    """Stream a result table written by this module as pyarrow RecordBatches of `schema`."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        _check_names(path, pf.schema_arrow.names, schema)
        for b in pf.iter_batches(batch_size=65536):
            yield _conform(b, schema)
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        with open(path, encoding="utf-8") as fh:
            header = fh.readline().strip()
        names = [c.strip('"') for c in header.split(",")] if header else []
        _check_names(path, names, schema)
        conv = pcsv.ConvertOptions(column_types={f.name: f.type for f in schema if f.name in names},
                                   strings_can_be_null=True, quoted_strings_can_be_null=False)
        reader = pcsv.open_csv(path, convert_options=conv, read_options=pcsv.ReadOptions(block_size=1 << 22))
        for b in reader:
            yield _conform(b, schema)
    else:
        rows: list[dict[str, Any]] = []
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if not line.strip():
                    continue
                row = json.loads(line)
                if n == 0:
                    _check_names(path, list(row), schema)
                rows.append(row)
                if len(rows) >= 65536:
                    yield pa.RecordBatch.from_pylist(rows, schema=schema)
                    rows = []
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)


def _fsync_dir(d: Path) -> None:
    """Make a rename in d durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _fsync_file(p: Path) -> None:
    with open(p, "rb+") as fh:
        os.fsync(fh.fileno())


class ResultSink:
    """Rows (dicts with the schema's columns) -> a resumable table at `out`; see the module docstring.

    The lock is taken here and released by finish() / close(). Raises OutputLocked when another run holds
    it; ValueError for an unknown format, a CSV with list columns, `out` a folder, or an existing output
    whose columns differ from this run's (unless overwrite=True, which deletes it and its parts first);
    OutputError when the output cannot be written (also from write/flush/finish).
    """

    def __init__(self, out: str | Path, schema: Any, fmt: str | None = None, flush_rows: int = 4096,
                 flush_seconds: float = 30.0, row_group_rows: int = 65536, overwrite: bool = False) -> None:
        import pyarrow as pa
        from filelock import FileLock, Timeout

        self.out = Path(out)
        self.fmt = output_format(out, fmt)
        self.schema = with_path_raw(schema)
        if self.fmt == "csv" and any(pa.types.is_list(f.type) for f in schema):
            raise ValueError(f"{out}: CSV cannot hold the embedding column; write .parquet or .jsonl")
        if flush_rows < 1 or row_group_rows < 1:
            raise ValueError(f"{_HERE}: flush_rows and row_group_rows must be >= 1")
        if self.out.is_dir():
            raise ValueError(f"{out}: is a folder; --out names the results file (e.g. {out}/results.parquet)")
        self.parts = self.out.with_name(self.out.name + ".parts")
        self.corrupt = self.out.with_name(self.out.name + ".corrupt")
        self.flush_rows, self.flush_seconds, self.row_group_rows = flush_rows, flush_seconds, row_group_rows
        self._lock = FileLock(str(self.out) + ".lock", timeout=0)
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            raise OutputLocked(f"{out}: another declip-score run is writing this output (its lock "
                               f"{out}.lock is held); wait for it to end or pass another --out") from None
        except OSError as e:
            raise OutputError(e.errno, f"cannot create the lock {out}.lock ({e.strerror or e})") from None
        self.set_aside: list[tuple[Path, str]] = []
        self.run = f"{os.getpid():x}{time.time_ns() & 0xFFFFFFFFFF:x}"
        self.written = 0
        self.errors_left = 0
        self._buf: list[dict[str, Any]] = []
        self._last = time.monotonic()
        self._plan: MergePlan | None = None
        try:
            self._step("start")
            if overwrite:
                self.out.unlink(missing_ok=True)
                shutil.rmtree(self.parts, ignore_errors=True)
            self._recover()
            self.parts.mkdir(parents=True, exist_ok=True)
            for t in self.parts.glob("*.tmp"):  # a write cut short by a crash
                t.unlink()
        except OSError as e:
            self.close()
            raise OutputError(e.errno, f"cannot write {self.parts} ({e.strerror or e})") from None
        except BaseException:
            self.close()
            raise
        self._next = 1 + max((self._seq(p) for p in self._part_files()), default=0)

    # -- seam for the fault-injection tests: called after each step; a no-op
    def _step(self, name: str) -> None:
        """Called at each step of the protocol ('start', 'part-write', 'rename', 'merge', 'cleanup',
        'replace'); does nothing (tests kill the process here)."""

    @staticmethod
    def _seq(p: Path) -> int:
        m = _PART.match(p.name)
        return int(m.group(1)) if m else 0

    def _part_files(self) -> list[Path]:
        return sorted((p for p in self.parts.glob("part-*.parquet") if _PART.match(p.name)), key=self._seq)

    def _recover(self) -> None:
        """Complete a merge that a crash interrupted (<out>.parts/merged exists): it holds every row."""
        merged = self.parts / MERGED
        if not merged.is_file():
            return
        for p in self._part_files():
            p.unlink()
        os.replace(merged, self.out)
        _fsync_dir(self.out.parent)
        shutil.rmtree(self.parts, ignore_errors=True)

    def _sources(self) -> list[tuple[Path, str, int]]:
        """(path, format, generation) of <out> and the readable parts, in order."""
        src = [(self.out, self.fmt, 0)] if self.out.is_file() else []
        runs: dict[str, int] = {}
        for p in self._part_files():
            run = _PART.match(p.name).group(2) or ""  # type: ignore[union-attr]
            src.append((p, "parquet", runs.setdefault(run, len(runs) + 1)))
        return src

    def _set_aside(self, p: Path, reason: str) -> None:
        self.corrupt.mkdir(exist_ok=True)
        dest = self.corrupt / p.name
        os.replace(p, dest)
        self.set_aside.append((dest, reason))

    def _read_keys(self, path: Path, fmt: str) -> tuple[np.ndarray, np.ndarray]:
        hs, es = [], []
        for b in read_batches(path, fmt, self.schema):
            paths = b.column("path").to_pylist()
            raws = b.column(PATH_RAW).to_pylist()
            hs.append(key_hashes(stored_key(str(p), r) for p, r in zip(paths, raws)))
            es.append(np.asarray(b.column("error").is_valid().to_numpy(zero_copy_only=False), dtype=bool))
        return (np.concatenate(hs) if hs else np.zeros(0, np.uint64)), (np.concatenate(es) if es else np.zeros(0, bool))

    def _make_plan(self) -> tuple[list[tuple[Path, str, int]], MergePlan]:
        import pyarrow as pa

        while True:
            srcs = self._sources()
            keys, errs, bad = [], [], None
            for path, fmt, _ in srcs:
                try:
                    h, e = self._read_keys(path, fmt)
                except (pa.ArrowInvalid, OSError) as ex:
                    if path == self.out:
                        raise ValueError(f"{path}: cannot be read ({ex}); move it away or pass --overwrite") from None
                    bad = (path, str(ex))
                    break
                keys.append(h)
                errs.append(e)
            if bad is None:
                return srcs, MergePlan(keys, errs, [g for _, _, g in srcs])
            self._set_aside(*bad)  # a part cut short (power cut): set aside, its inputs are scored again

    def done(self) -> DoneSet:
        """Inputs already scored without error (in <out> and its parts); unreadable parts are set aside first
        (see `set_aside`)."""
        _, plan = self._make_plan()
        self.errors_left = plan.errors_left
        return DoneSet(hashes=plan.done)

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self._buf.extend(rows)
        if len(self._buf) >= self.flush_rows or time.monotonic() - self._last >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one part file (temporary name, fsync, rename). Raises OutputError."""
        self._last = time.monotonic()
        if not self._buf:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(storable_rows(self._buf), schema=self.schema)
        name = self.parts / f"part-{self._next:06d}-{self.run}.parquet"
        tmp = name.with_suffix(".tmp")
        try:
            pq.write_table(table, tmp)
            self._step("part-write")
            _fsync_file(tmp)
            os.replace(tmp, name)
            _fsync_dir(self.parts)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise OutputError(e.errno, f"cannot write {name} ({e.strerror or e})") from None
        self._step("rename")
        self._next += 1
        self.written += len(self._buf)
        self._buf = []

    def finish(self) -> Path:
        """Flush, merge <out> and the parts into <out> (see the module docstring), release the lock.
        Returns <out>; sets `errors_left` (error rows in the final table). Raises OutputError."""
        try:
            self.flush()
            srcs, plan = self._make_plan()
            self.errors_left = plan.errors_left
            if any(p != self.out for p, _, _ in srcs) or not self.out.is_file():
                merged = self.parts / MERGED
                tmp = self.parts / (MERGED + ".tmp")
                try:
                    self._write_final(tmp, self._rechunk(self._merged_batches(srcs, plan)))
                    _fsync_file(tmp)
                    os.replace(tmp, merged)
                    _fsync_dir(self.parts)
                except OSError as e:
                    tmp.unlink(missing_ok=True)
                    raise OutputError(e.errno, f"cannot write {self.out} ({e.strerror or e})") from None
                self._step("merge")
                for p in self._part_files():
                    p.unlink()
                self._step("cleanup")
                os.replace(merged, self.out)
                _fsync_dir(self.out.parent)
                self._step("replace")
            shutil.rmtree(self.parts, ignore_errors=True)
        finally:
            self.close()
        return self.out

    def close(self) -> None:
        """Release the lock (what is written stays; the next run resumes from it)."""
        if self._lock.is_locked:
            self._lock.release()

    def _merged_batches(self, srcs: list[tuple[Path, str, int]], plan: MergePlan) -> Iterator[Any]:
        """The sources' rows in order, a later run's row at the place of the error row it replaces."""
        import pyarrow as pa

        want: dict[int, set[int]] = collections.defaultdict(set)
        for s in range(len(srcs)):
            for s2, r2 in plan.occupant[s].values():
                want[s2].add(r2)
        held: dict[tuple[int, int], Any] = {}
        for s2, rows in want.items():  # the replacing rows (as many as the retried error rows)
            t = pa.Table.from_batches(list(read_batches(srcs[s2][0], srcs[s2][1], self.schema)), schema=self.schema)
            for r2 in rows:
                held[(s2, r2)] = t.slice(r2, 1)
        for s, (path, fmt, _) in enumerate(srcs):
            off = 0
            moved, occ = plan.moved[s], plan.occupant[s]
            for b in read_batches(path, fmt, self.schema):
                n = b.num_rows
                if not any(off <= r < off + n for r in moved) and not any(off <= r < off + n for r in occ):
                    yield b
                else:
                    t = pa.Table.from_batches([b], schema=self.schema)
                    for r in range(n):
                        if off + r in occ:
                            yield from held[occ[off + r]].to_batches()
                        elif off + r not in moved:
                            yield from t.slice(r, 1).to_batches()
                off += n

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
