"""Progress of a scoring run: a tqdm bar (images/s, ETA once the inputs are counted) on a terminal, nothing
otherwise; and the one-line summary."""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, TextIO


@dataclass
class Summary:
    """What a run did: scored / failed rows written by THIS run, inputs skipped because they were already in
    the output, files left out of folders/globs for their extension, wall seconds."""

    scored: int = 0
    failed: int = 0
    skipped: int = 0
    not_images: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    def line(self, out: str) -> str:
        rate = (self.scored + self.failed) / self.seconds if self.seconds > 0 else 0.0
        s = (f"scored {self.scored}, failed {self.failed}, skipped {self.skipped} (already in {out}), "
             f"{self.seconds:.1f} s ({rate:.1f} images/s)")
        if self.not_images:
            s += f"; {self.not_images} files without an image extension left out"
        if self.interrupted:
            s += "; INTERRUPTED: rerun the same command to resume"
        return s


class Progress:
    """update(n_rows, n_failed) per batch. enabled=None: on when `stream` is a terminal. count_inputs, when
    given, is run in a background thread to learn the total (for the ETA); the bar works without it."""

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None,
                 count_inputs: Callable[[], Iterable[object]] | None = None, desc: str = "scoring") -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.summary = Summary()
        self.t0 = time.monotonic()
        self.bar = None
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(desc=desc, unit="img", file=self.stream, dynamic_ncols=True, smoothing=0.1)
            if count_inputs is not None:
                threading.Thread(target=self._count, args=(count_inputs,), daemon=True).start()

    def _count(self, count_inputs: Callable[[], Iterable[object]]) -> None:
        n = sum(1 for _ in count_inputs())
        if self.bar is not None:
            self.bar.total = n - self.summary.skipped if self.summary.skipped <= n else None
            self.bar.refresh()

    def skipped(self, n: int = 1) -> None:
        self.summary.skipped += n

    def update(self, n: int, failed: int) -> None:
        self.summary.scored += n - failed
        self.summary.failed += failed
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix(failed=self.summary.failed, skipped=self.summary.skipped, refresh=False)

    def close(self) -> Summary:
        self.summary.seconds = time.monotonic() - self.t0
        if self.bar is not None:
            self.bar.close()
        return self.summary
