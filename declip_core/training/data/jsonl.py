"""JSON-lines files (one JSON value per line), read with errors that name the file and the line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


def jsonl_rows(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(1-based line number, parsed value) for each non-blank line of `path` (UTF-8). ValueError
    '<path>:<line>: not valid JSON (...)' on a line that does not parse."""
    path = Path(path)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not valid JSON ({e})") from e
