"""Score or embed a list of image files in memory: every input path ends in exactly one of results or errors.

A thin wrapper over the one decode -> embed path (`declip_core.embed`) and the batch scorer's per-batch
function (`declip_core.scoring.Scorer`): `score_files(paths, quality_model)` -> (scores, errors);
`embed_files(paths, declip)` -> perceptual embeddings (used by declip_core.training.mos). Decoding (declip_core.io.load_image: EXIF
rotation, 16-bit, CMYK, alpha, palette, decompression-bomb guard) runs in DataLoader worker processes,
overlapped with the network; a file that cannot be decoded is reported with the reason; a worker process
that dies (a decoder crash) costs only the file it was decoding. For millions of files, resumable
output tables and Ray, use `declip-score` (declip_core.scoring). CLI:

    python -m declip_core.iqa.batch PATHS_OR_FOLDERS --metric tech|aes [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from declip_core.backbones.base import PreprocessConfig
from declip_core.constants import METRICS
from declip_core.embed import Embedded, ViewSpec, decode_stream, decode_views, embed_decoded, preprocess_config
from declip_core.io import DEFAULT_MAX_PIXELS
from declip_core.iqa.views import ViewPolicy
from declip_core.transforms import pil_resize, pil_to_tensor01

if TYPE_CHECKING:
    from declip_core.inference import DeCLIP


def _image_extensions() -> frozenset[str]:
    Image.init()
    return frozenset(ext.lower() for ext in Image.registered_extensions())


def expand_paths(paths_or_folders: Iterable[str | Path]) -> tuple[list[str], list[str]]:
    """(files to score, files skipped): folders are walked recursively (sorted) and keep the files with an
    image extension PIL knows; paths given explicitly are always kept, whatever they are."""
    exts = _image_extensions()
    files: list[str] = []
    skipped: list[str] = []
    for p in paths_or_folders:
        path = Path(p)
        if path.is_dir():
            for f in sorted(q for q in path.rglob("*") if q.is_file()):
                (files if f.suffix.lower() in exts else skipped).append(str(f))
        else:
            files.append(str(p))
    return list(dict.fromkeys(files)), skipped


def preprocess_pil(img: Image.Image, cfg: PreprocessConfig) -> torch.Tensor:
    """RGB PIL image -> (3, S, S) float tensor in 0..1 by the weights' resize rule (not normalised)."""
    return pil_to_tensor01(pil_resize(img, cfg))


def _decode(path: str, cfg: PreprocessConfig, max_pixels: int, views: ViewPolicy | None = None) -> torch.Tensor:
    """One file -> (K, 3, S, S) views in 0..1 (K = 1 without a ViewPolicy); raises ImageLoadError
    (a module function so tests can replace it; declip_core.embed.decode_views does the work)."""
    return decode_views(path, cfg, [views], max_pixels)[0]


def _decode_hook(source: str, cfg: PreprocessConfig, views: Sequence[ViewSpec], max_pixels: int
                 ) -> tuple[torch.Tensor, ...]:
    return (_decode(source, cfg, max_pixels, views[0]),)  # looks _decode up at call time (tests patch it)


def _check_paths(paths: Iterable[str | Path]) -> list[str]:
    if isinstance(paths, (str, Path)):
        raise ValueError(f"declip_core/iqa/batch.py: paths must be a list of paths, not one {type(paths).__name__}")
    return list(dict.fromkeys(str(p) for p in paths))


def _stream(keys: Sequence[str], model: torch.nn.Module, view: ViewSpec, batch_size: int, workers: int,
            max_pixels: int) -> Iterable[list[Embedded]]:
    cfg = preprocess_config(model)
    declip = getattr(model, "declip", model)
    for items in decode_stream(keys, cfg, [view], batch_size, workers, max_pixels, decode=_decode_hook):
        yield embed_decoded(declip, items, getattr(model, "outputs", ("perceptual",)))


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
    from declip_core.scoring.scorer import Scorer

    keys = _check_paths(paths)
    preprocess_config(model)  # a clear error for anything but a QualityModel / DeCLIP
    if not hasattr(model, "views") or not hasattr(model, "head"):
        raise ValueError("declip_core/iqa/batch.py: score_files needs a QualityModel (declip_core.iqa."
                         f"create_quality_model), got {type(model).__name__}")
    if batch_size < 1:
        raise ValueError(f"declip_core/iqa/batch.py: batch_size must be >= 1, got {batch_size}")
    scorer = Scorer({model.metric: model})  # type: ignore[dict-item]
    scores: dict[str, float] = {}
    errors: dict[str, str] = {}
    for emb in _stream(keys, model, model.views, batch_size, workers, max_pixels):  # type: ignore[arg-type]
        for row in scorer.rows(emb):
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
    each occurrence gets a row."""
    if isinstance(paths, (str, Path)):
        raise ValueError(f"declip_core/iqa/batch.py: paths must be a list of paths, not one {type(paths).__name__}")
    if batch_size < 1:
        raise ValueError(f"declip_core/iqa/batch.py: batch_size must be >= 1, got {batch_size}")
    names = [str(p) for p in paths]
    keys = list(dict.fromkeys(names))
    row_of: dict[str, torch.Tensor] = {}
    errors: dict[str, str] = {}
    for emb in _stream(keys, declip, None, batch_size, workers, max_pixels):
        for e in emb:
            if e.error is None:
                row_of[e.key] = e.perceptual[0].mean(0)
            else:
                errors[e.key] = e.error
    ok = [j for j, n in enumerate(names) if n in row_of]
    out = (torch.stack([row_of[names[j]] for j in ok]).numpy().astype(np.float32) if ok
           else np.zeros((0, declip.perceptual_dim), dtype=np.float32))
    return np.asarray(ok, dtype=np.int64), out, errors


def _table(scores: dict[str, float], errors: dict[str, str], metric: str, skipped: Sequence[str]) -> str:
    rows = [(p, f"{s:.3f}") for p, s in scores.items()]
    width = max([len(p) for p, _ in rows] + [4])
    lines = [f"{'file':<{width}}  {metric:>6}", f"{'-' * width}  {'-' * 6}"]
    lines += [f"{p:<{width}}  {s:>6}" for p, s in rows]
    lines.append(f"\nscored {len(scores)}, failed {len(errors)}"
                 + (f", skipped {len(skipped)} files without an image extension" if skipped else ""))
    if errors:
        lines.append("errors:")
        lines += [f"  {p}: {e}" for p, e in errors.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: exit 0 when every file scored, 1 when some could not be (each reported), 2 on bad arguments
    or weights that cannot be loaded."""
    ap = argparse.ArgumentParser(prog="python -m declip_core.iqa.batch", description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="image files and/or folders (walked recursively)")
    ap.add_argument("--metric", choices=METRICS, default="tech")
    ap.add_argument("--checkpoint", default=None, help="head checkpoint file/folder/tag (default lite-<metric>)")
    ap.add_argument("--declip", default=None, help="DeCLIP checkpoint file/folder/tag (default lite)")
    ap.add_argument("--head", choices=("zeroshot",), default=None, help="zero-shot head instead of the checkpoint's")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS)
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (default cpu)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    if args.batch_size < 1 or args.workers < 0 or args.max_pixels < 1:
        ap.error(f"--batch-size must be >= 1, --workers >= 0, --max-pixels >= 1 (got {args.batch_size}, "
                 f"{args.workers}, {args.max_pixels})")
    from declip_core.device import resolve_device

    try:
        args.device = str(resolve_device(args.device))
    except ValueError as e:
        ap.error(f"--device: {e}")  # prints usage and `error: ...`, exits 2

    from declip_core.iqa.model import create_quality_model

    files, skipped = expand_paths(args.paths)
    try:
        model = create_quality_model(args.metric, checkpoint=args.checkpoint, head=args.head, declip=args.declip,
                                     device=args.device)
    except ValueError as e:  # missing or mismatched weights: say so and how to pass them, no traceback
        print(f"error: cannot load the {args.metric!r} model: {e}\n(pass --declip and --checkpoint, or "
              "--head zeroshot)", file=sys.stderr)
        return 2
    scores, errors = score_files(files, model, batch_size=args.batch_size, workers=args.workers,
                                 max_pixels=args.max_pixels)
    if args.json:
        print(json.dumps({"metric": args.metric, "scores": scores, "errors": errors, "skipped": skipped}, indent=1))
    else:
        print(_table(scores, errors, args.metric, skipped))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
