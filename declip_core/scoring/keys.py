"""Result-table keys: how an input is named in a table and found again on resume.

A key is a path as Python holds it (undecodable bytes of a POSIX file name as surrogates, os.fsdecode).
Tables store `path` (a valid UTF-8 display string) and `path_raw` (the hex of the raw bytes, only when the
name is not valid UTF-8); resume compares 8-byte hashes of the raw bytes (DoneSet).
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable, Sequence

import numpy as np

PATH_RAW = "path_raw"  # hex of a file name's raw bytes, only when it is not valid UTF-8


def key_hash(key: str) -> int:
    """8-byte blake2b of the key's raw bytes (UTF-8, surrogates back to the bytes they stand for), as an int."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little")


def key_hashes(keys: Iterable[str]) -> np.ndarray:
    """uint64 array of key_hash over keys."""
    return np.fromiter((key_hash(k) for k in keys), dtype=np.uint64)


class DoneSet:
    """A multiset of already-written keys: take(key) is True (and uses one occurrence) when key was written."""

    def __init__(self, keys: Iterable[str] = (), hashes: np.ndarray | None = None) -> None:
        if hashes is None:
            chunks, buf = [], []
            for k in keys:
                buf.append(key_hash(k))
                if len(buf) >= 65536:
                    chunks.append(np.asarray(buf, dtype=np.uint64))
                    buf = []
            chunks.append(np.asarray(buf, dtype=np.uint64))
            hashes = np.concatenate(chunks)
        self.hashes, counts = np.unique(np.asarray(hashes, dtype=np.uint64), return_counts=True)
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


def display_key(key: str) -> tuple[str, str | None]:
    """A key (a path as Python holds it, undecodable bytes as surrogates) -> (a valid UTF-8 display string,
    the hex of the raw bytes or None when the key is valid UTF-8). Lossless: see stored_key."""
    try:
        key.encode("utf-8")
        return key, None
    except UnicodeEncodeError:
        raw = key.encode("utf-8", "surrogateescape")
        return raw.decode("utf-8", "backslashreplace"), raw.hex()


def stored_key(path: str, raw_hex: str | None) -> str:
    """Inverse of display_key: the key as Python holds it (os.fsdecode of the raw bytes)."""
    return path if raw_hex is None else bytes.fromhex(raw_hex).decode("utf-8", "surrogateescape")


def with_path_raw(schema: Any) -> Any:
    """The schema with the `path_raw` column (string, after the others) when it lacks it."""
    import pyarrow as pa

    return schema if PATH_RAW in schema.names else schema.append(pa.field(PATH_RAW, pa.string()))


def storable_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose strings UTF-8 can hold: `path` as display_key's display string plus `path_raw`; other
    strings (an error message quoting an undecodable name) with the bad bytes as \\xNN."""
    out = []
    for r in rows:
        r = dict(r)
        if r.get(PATH_RAW) is None and isinstance(r.get("path"), str):
            r["path"], r[PATH_RAW] = display_key(r["path"])
        for k, v in r.items():
            if isinstance(v, str) and k != "path":
                r[k] = display_key(v)[0]
        out.append(r)
    return out


