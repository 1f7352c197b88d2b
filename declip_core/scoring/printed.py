"""The small-job output of `declip-score`: `--out -` prints a table, `--json` prints one JSON object.

`PrintedResults` stands in for the resumable ResultSink (same write / flush / finish / done calls): rows
are kept in memory and printed when the run ends, so it is meant for the files of one folder, not for
millions (use `--out results.parquet` there). Nothing is resumed.

JSON: {"metrics": [...], "scores": {path: {column: value}}, "errors": {path: reason}, "not_images": n},
columns being the metric names (scores in 0..1, higher is better) and, with --attributes,
`<metric>_<attribute>`; with --embedding also "perceptual" (a list of P floats).
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from declip_core.scoring.sink import DoneSet


class PrintedResults:
    """columns: the Scorer's columns (path, metrics, attributes, perceptual, error); as_json: JSON, else a table."""

    def __init__(self, columns: Sequence[str], metrics: Sequence[str], as_json: bool = False) -> None:
        self.columns = [c for c in columns if c not in ("path", "path_raw", "error")]
        self.metrics = list(metrics)
        self.as_json = as_json
        self.rows: list[dict[str, Any]] = []
        self.set_aside: list = []  # ResultSink's corrupt parts: none here (nothing is read back)

    def done(self) -> DoneSet:
        return DoneSet()  # nothing to resume: every input is scored

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.rows.extend(rows)

    def flush(self) -> None:
        """Nothing to flush: rows are printed at the end."""

    def finish(self) -> None:
        """Nothing to finish: rows are printed at the end."""

    @property
    def errors_left(self) -> bool:
        """Whether some input could not be scored (the exit status says so, as with ResultSink)."""
        return any(r["error"] is not None for r in self.rows)

    def close(self) -> None:
        """Nothing to release (no file, no lock)."""

    def report(self, not_images: int) -> str:
        """The JSON object or the table (with a footer of counts and the errors, one per line)."""
        scores = {r["path"]: {c: r[c] for c in self.columns} for r in self.rows if r["error"] is None}
        errors = {r["path"]: r["error"] for r in self.rows if r["error"] is not None}
        if self.as_json:
            return json.dumps({"metrics": self.metrics, "scores": scores, "errors": errors, "not_images": not_images},
                              indent=1)
        cols = [c for c in self.columns if c != "perceptual"]
        width = max([len(p) for p in scores] + [4])
        widths = [max(6, len(c)) for c in cols]
        lines = ["  ".join([f"{'file':<{width}}", *(f"{c:>{w}}" for c, w in zip(cols, widths))]),
                 "  ".join(["-" * width, *("-" * w for w in widths)])]
        lines += ["  ".join([f"{p:<{width}}", *(f"{row[c]:>{w}.3f}" for c, w in zip(cols, widths))])
                  for p, row in scores.items()]
        lines.append(f"\nscored {len(scores)}, failed {len(errors)}"
                     + (f", skipped {not_images} files without an image extension" if not_images else ""))
        if errors:
            lines.append("errors:")
            lines += [f"  {p}: {e}" for p, e in errors.items()]
        return "\n".join(lines)
