"""Small helpers shared by the readers: label-file lookup, CSV rows, number parsing."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path


def as_root(root: str | Path, what: str) -> Path:
    """Absolute path of an existing dataset folder, or ValueError."""
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        raise ValueError(f"{what}: dataset root {path} is not an existing folder")
    return path


def first_existing(root: Path, names: Sequence[str], what: str) -> Path:
    """First ``root/name`` that is a file; ValueError listing what was looked for."""
    for name in names:
        candidate = root / name
        if candidate.is_file():
            return candidate
    wanted = ", ".join(repr(n) for n in names)
    raise ValueError(f"{what}: none of the label files {wanted} found under {root}")


def read_csv_rows(
    path: Path, required: Sequence[str], delimiter: str = ","
) -> list[tuple[int, dict[str, str]]]:
    """``(line_number, row)`` pairs of a headed CSV; ValueError on missing columns."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            if reader.fieldnames is None:
                raise ValueError(f"{path}: file is empty, expected a header row")
            reader.fieldnames = [name.strip() for name in reader.fieldnames]
            absent = [name for name in required if name not in reader.fieldnames]
            if absent:
                raise ValueError(
                    f"{path}: missing column(s) {absent}; header has {reader.fieldnames}"
                )
            rows = [(reader.line_num, dict(row)) for row in reader]
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error})") from error
    return rows


def parse_float(value: str | None, path: Path, line: int, column: str) -> float:
    """Finite float from a table cell, or ValueError naming file, line and column."""
    text = (value or "").strip()
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{path}:{line}: column {column!r} is not a number: {text!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{path}:{line}: column {column!r} is not finite: {text!r}")
    return number


def parse_optional_float(value: str | None, path: Path, line: int, column: str) -> float | None:
    """Like :func:`parse_float` but an empty cell gives None."""
    if value is None or not value.strip():
        return None
    return parse_float(value, path, line, column)


def cell(row: dict[str, str], column: str, path: Path, line: int) -> str:
    """Non-empty stripped cell text, or ValueError."""
    text = (row.get(column) or "").strip()
    if not text:
        raise ValueError(f"{path}:{line}: column {column!r} is empty")
    return text
