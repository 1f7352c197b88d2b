"""The single-machine engine: decode in DataLoader worker processes, score batches in this process."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from declip_core.embed import Source, decode_stream
from declip_core.scoring.scorer import Scorer


def score_local(inputs: Iterable[Source], scorer: Scorer, batch_size: int = 16, workers: int = 1,
                timeout: float = 0.0, start_method: str | None = None) -> Iterator[list[dict[str, Any]]]:
    """Lazy inputs -> batches of row dicts (Scorer.columns()), in input order, one row per input.
    Decoding runs in `workers` processes (0: here); a crashing decoder costs only its file, and with
    timeout > 0 (seconds) a stuck one becomes an error row; start_method: see declip_core.embed.decode_stream."""
    for items in decode_stream(inputs, scorer.cfg, scorer.views, batch_size, workers, scorer.max_pixels,
                               timeout=timeout, start_method=start_method):
        yield scorer.score_decoded(items)
