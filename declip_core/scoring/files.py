"""Score or embed a list of image files in memory: every input path ends in exactly one of results or errors.

The Python door for small jobs, over the same parts as `declip-score` (declip_core.scoring.cli): the one
`Scorer` and the local engine for `score_files(paths, quality_model)` -> (scores, errors), the one decode ->
embed path (`declip_core.embed.embed_stream`) for `embed_files(paths, declip)` -> perceptual embeddings (used
by declip_core.training.mos). Decoding (declip_core.io.load_image: EXIF rotation, 16-bit, CMYK, alpha,
palette, decompression-bomb guard) runs in DataLoader worker processes, overlapped with the network; a file
that cannot be decoded is reported with the reason; a worker process that dies (a decoder crash) costs only
the file it was decoding. Folders are not walked here: list them with declip_core.scoring.sources.iter_inputs
(what `declip-score` walks). For millions of files, resumable output tables and Ray: `declip-score`.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import torch

from declip_core.embed import embed_stream, preprocess_config
from declip_core.io import DEFAULT_MAX_PIXELS
from declip_core.scoring.local import score_local
from declip_core.scoring.scorer import Scorer
from declip_core.views import mean_over_views

if TYPE_CHECKING:
    from declip_core.inference import DeCLIP

_HERE = "declip_core/scoring/files.py"


def _check_paths(paths: Iterable[str | Path], batch_size: int) -> list[str]:
    if isinstance(paths, (str, Path)):
        raise ValueError(f"{_HERE}: paths must be a list of paths, not one {type(paths).__name__}")
    if batch_size < 1:
        raise ValueError(f"{_HERE}: batch_size must be >= 1, got {batch_size}")
    return [str(p) for p in paths]


def score_files(paths: Iterable[str | Path], model: torch.nn.Module, batch_size: int = 16, workers: int = 1,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[dict[str, float], dict[str, str]]:
    """Score image files with a QualityModel; returns (scores, errors), both keyed by the path as given.

    Args:
        paths: image files (a list, not one string), decoded by declip_core.io.load_image.
        model: a QualityModel (declip_core.iqa.create_quality_model).
        batch_size: images per forward pass (each brings its views); workers: DataLoader decoding
            processes (0: in this process); max_pixels: decompression-bomb guard in pixels (64 MP).

    Returns:
        (scores, errors): path -> float score in 0..1, higher is better (the mean over the model's
        views); path -> reason (str). Every input path appears in exactly one of the two dicts
        (duplicates are scored once), in input order. Errors: missing, unreadable, corrupt, truncated,
        non-image, a folder, over `max_pixels`, a crashed decoder, a failed forward pass, a non-finite
        output; one bad file never costs the others. Streams of millions of files: declip_core.scoring.

    Raises:
        ValueError: bad arguments (one string instead of a list, batch_size < 1, workers < 0, a model that
            is not a QualityModel).
    """
    keys = list(dict.fromkeys(_check_paths(paths, batch_size)))
    preprocess_config(model)  # a clear error for anything but a QualityModel / DeCLIP
    if not hasattr(model, "views") or not hasattr(model, "head"):
        raise ValueError(f"{_HERE}: score_files needs a QualityModel (declip_core.iqa.create_quality_model), "
                         f"got {type(model).__name__}")
    scorer = Scorer({model.metric: model}, max_pixels=max_pixels)  # type: ignore[dict-item]
    scores: dict[str, float] = {}
    errors: dict[str, str] = {}
    for rows in score_local(keys, scorer, batch_size=batch_size, workers=workers):
        for row in rows:
            if row["error"] is None:
                scores[row["path"]] = float(row[model.metric])
            else:
                errors[row["path"]] = row["error"]
    return scores, errors


def embed_files(paths: Sequence[str | Path], declip: DeCLIP, batch_size: int = 32, workers: int = 1,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Perceptual embeddings of image files: (ok indices into paths (M,) int64, (M, P) float32 L2-normalised,
    errors path -> reason). Same decoding and guarantees as score_files; the preprocessing equals
    DeCLIP.embed_pil's (one view: the backbone's PIL resize). Duplicated paths are embedded once and
    each occurrence gets a row. Raises ValueError for bad arguments."""
    names = _check_paths(paths, batch_size)
    row_of: dict[str, torch.Tensor] = {}
    errors: dict[str, str] = {}
    for emb in embed_stream(list(dict.fromkeys(names)), declip, views=(None,), batch_size=batch_size, workers=workers,
                            max_pixels=max_pixels):
        for e in emb:
            if e.error is None:
                row_of[e.key] = mean_over_views(e.perceptual[0], [len(e.perceptual[0])])[0]  # (P,)
            else:
                errors[e.key] = e.error
    ok = [j for j, n in enumerate(names) if n in row_of]
    out = (torch.stack([row_of[names[j]] for j in ok]).numpy().astype(np.float32) if ok
           else np.zeros((0, declip.perceptual_dim), dtype=np.float32))
    return np.asarray(ok, dtype=np.int64), out, errors
