"""Score or embed many image files robustly: every input path ends in exactly one of results or errors.

`score_files(paths, quality_model)` -> (scores, errors); `embed_files(paths, declip)` -> perceptual
embeddings (used by declip_core.training.mos). Decoding (declip_core.io.load_image: EXIF rotation, 16-bit,
CMYK, alpha, palette, decompression-bomb guard) runs in DataLoader worker processes, overlapped with
the network. A file that cannot be decoded is reported with the reason; a worker process that dies
(a decoder crash) costs only the file it was decoding. CLI:

    python -m declip_core.iqa.batch PATHS_OR_FOLDERS --metric tech|aes [--json]
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from declip_core.backbones.base import PreprocessConfig
from declip_core.io import DEFAULT_MAX_PIXELS, ImageLoadError, load_image
from declip_core.iqa.views import ViewPolicy, make_views
from declip_core.transforms import pil_resize, pil_to_tensor01

if TYPE_CHECKING:
    from declip_core.inference import DeCLIP

_Item = tuple[int, "torch.Tensor | None", str]


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
    (a module function so tests can replace it)."""
    img = load_image(path, max_pixels=max_pixels)
    if views is None:
        return preprocess_pil(img, cfg).unsqueeze(0)
    w, h = img.size
    if min(w, h) > views.max_side:  # shrink in PIL first: a 50-MP float tensor is not needed
        s = views.max_side / min(w, h)
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BICUBIC)
    x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)
    return make_views(x.unsqueeze(0), views, cfg)[0]


class _Files(Dataset):
    """Item i -> (i, tensor or None, error text or '')."""

    def __init__(self, paths: Sequence[str], cfg: PreprocessConfig, max_pixels: int,
                 views: ViewPolicy | None = None) -> None:
        self.paths = list(paths)
        self.cfg = cfg
        self.max_pixels = max_pixels
        self.views = views

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> _Item:
        try:
            return i, _decode(self.paths[i], self.cfg, self.max_pixels, self.views), ""
        except ImageLoadError as e:
            return i, None, e.reason
        except Exception as e:  # noqa: BLE001 - a decoder bug in one file must not end the batch; reported per file
            return i, None, f"could not decode ({type(e).__name__}: {e})"


def _collate(items: list[_Item]) -> list[_Item]:
    return items


def _preprocess_config(model: torch.nn.Module) -> PreprocessConfig:
    """The resize rule of a QualityModel (model.declip.backbone) or a DeCLIP (model.backbone)."""
    declip = getattr(model, "declip", model)
    cfg = getattr(getattr(getattr(declip, "backbone", None), "info", None), "preprocess", None)
    if not isinstance(cfg, PreprocessConfig):
        raise ValueError("declip_core/iqa/batch.py: expected a QualityModel or a DeCLIP (its backbone's "
                         f"info.preprocess is the resize rule); got {type(model).__name__}")
    return cfg


def _device(model: torch.nn.Module) -> torch.device:
    for t in itertools.chain(model.parameters(), model.buffers()):
        return t.device
    return torch.device("cpu")


def _worker_died(e: BaseException) -> bool:
    """torch raises RuntimeError('DataLoader worker (pid ...) exited unexpectedly / is killed by signal')."""
    return isinstance(e, RuntimeError) and "DataLoader worker" in str(e)


def _forward_batch(fn: Callable[[torch.Tensor], torch.Tensor], items: list[_Item], device: torch.device,
                   out: dict[int, torch.Tensor], errors: dict[int, str]) -> None:
    """Run fn on the decoded items of one batch; a failed batch is retried file by file."""
    ok = [(i, x) for i, x, _ in items if x is not None]
    for i, x, err in items:
        if x is None:
            errors[i] = err
    if not ok:
        return
    try:
        with torch.no_grad():
            y = fn(torch.cat([x for _, x in ok]).to(device)).float().cpu()  # (sum K_i, ...) per view
        rows = [(i, part.mean(0)) for (i, _), part in zip(ok, torch.split(y, [len(x) for _, x in ok]))]
    except RuntimeError as e:  # e.g. out of memory: retry one by one so only a culprit is reported
        if _worker_died(e):
            raise
        rows = []
        for i, x in ok:
            try:
                with torch.no_grad():
                    rows.append((i, fn(x.to(device)).float().cpu().mean(0)))
            except RuntimeError as e:
                if _worker_died(e):
                    raise
                errors[i] = f"forward pass failed ({e})"
    for i, row in rows:
        if bool(torch.isfinite(row).all()):
            out[i] = row
        else:
            errors[i] = "non-finite output"


def _run(paths: Sequence[str], fn: Callable[[torch.Tensor], torch.Tensor], cfg: PreprocessConfig,
         device: torch.device, batch_size: int, workers: int, max_pixels: int, views: ViewPolicy | None = None
         ) -> tuple[dict[int, torch.Tensor], dict[int, str]]:
    """Decode paths in DataLoader workers and run fn on batches; every index lands in one of the dicts."""
    if batch_size < 1:
        raise ValueError(f"declip_core/iqa/batch.py: batch_size must be >= 1, got {batch_size}")
    if workers < 0:
        raise ValueError(f"declip_core/iqa/batch.py: workers must be >= 0, got {workers}")
    out: dict[int, torch.Tensor] = {}
    errors: dict[int, str] = {}
    todo = []
    for i, p in enumerate(paths):
        if Path(p).is_dir():
            errors[i] = "is a folder (use expand_paths, or the CLI, to score its images)"
        else:
            todo.append(i)
    bs, nw = batch_size, workers
    while todo:
        isolate = bs == 1 and nw == 1
        loader = DataLoader(_Files([paths[i] for i in todo], cfg, max_pixels, views), batch_size=bs, shuffle=False,
                            num_workers=nw, collate_fn=_collate, prefetch_factor=1 if isolate else None)
        got: dict[int, torch.Tensor] = {}
        errs: dict[int, str] = {}
        received: set[int] = set()
        done: set[int] = set()
        rest: list[int] = []
        try:
            for items in loader:
                received.update(i for i, _, _ in items)
                _forward_batch(fn, items, device, got, errs)
                done.update(i for i, _, _ in items)
        except RuntimeError as e:
            if nw == 0 or not _worker_died(e):
                raise
            # A worker died mid-decode (a decoder crash, or killed for memory). Go on one file at a time
            # with one worker and no prefetch: then the one file not yet received when it dies is the culprit.
            rest = [j for j in range(len(todo)) if j not in done]
            got = {j: v for j, v in got.items() if j in done}
            errs = {j: v for j, v in errs.items() if j in done}
            pending = [j for j in rest if j not in received]
            if isolate and pending:
                errs[pending[0]] = f"the decoder process died on this file ({e})"
                rest.remove(pending[0])
        out.update({todo[j]: v for j, v in got.items()})
        errors.update({todo[j]: v for j, v in errs.items()})
        todo = [todo[j] for j in rest]
        bs, nw = 1, 1
    lost = [paths[i] for i in range(len(paths)) if (i in out) == (i in errors)]
    if lost:
        raise RuntimeError(f"declip_core/iqa/batch.py: internal error, paths unaccounted for: {lost[:5]}")
    return out, errors


def _check_paths(paths: Iterable[str | Path]) -> list[str]:
    if isinstance(paths, (str, Path)):
        raise ValueError(f"declip_core/iqa/batch.py: paths must be a list of paths, not one {type(paths).__name__}")
    return list(dict.fromkeys(str(p) for p in paths))


def score_files(paths: Iterable[str | Path], model: torch.nn.Module, batch_size: int = 16, workers: int = 1,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[dict[str, float], dict[str, str]]:
    """Score image files with a QualityModel; returns (scores, errors), both keyed by the path as given.

    Every input path appears in exactly one of the two dicts (duplicates are scored once), in input
    order. Decoding runs in `workers` DataLoader processes (0: in this process). Errors: missing,
    unreadable, corrupt, truncated, non-image, over `max_pixels` (decompression-bomb guard), a
    crashed decoder, a failed forward pass.
    """
    keys = _check_paths(paths)
    views = getattr(model, "views", None)
    if views is not None:  # a QualityModel: score each view, average per image
        fn: Callable[[torch.Tensor], torch.Tensor] = lambda v: model.score_views(v.unsqueeze(1))  # noqa: E731
    else:
        fn = model
    out, errs = _run(keys, fn, _preprocess_config(model), _device(model), batch_size, workers, max_pixels, views)
    return ({keys[i]: float(out[i]) for i in range(len(keys)) if i in out},
            {keys[i]: errs[i] for i in range(len(keys)) if i in errs})


def embed_files(paths: Sequence[str | Path], declip: DeCLIP, batch_size: int = 32, workers: int = 1,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Perceptual embeddings of image files: (ok indices into paths (M,), (M, P) float32, errors path -> reason).

    Same decoding and guarantees as score_files; the preprocessing equals DeCLIP.embed_pil's.
    """
    names = [str(p) for p in paths]
    if isinstance(paths, (str, Path)):
        raise ValueError(f"declip_core/iqa/batch.py: paths must be a list of paths, not one {type(paths).__name__}")
    keys = list(dict.fromkeys(names))
    out, errs = _run(keys, lambda x: declip.embed_images(x).perceptual, _preprocess_config(declip),
                     _device(declip), batch_size, workers, max_pixels)
    row_of = {k: out[i] for i, k in enumerate(keys) if i in out}
    ok = [j for j, n in enumerate(names) if n in row_of]
    emb = (torch.stack([row_of[names[j]] for j in ok]).numpy().astype(np.float32) if ok
           else np.zeros((0, declip.perceptual_dim), dtype=np.float32))
    errors = {keys[i]: errs[i] for i in range(len(keys)) if i in errs}
    return np.asarray(ok, dtype=np.int64), emb, errors


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
    ap.add_argument("--metric", choices=("tech", "aes"), default="tech")
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
