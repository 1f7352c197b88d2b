"""Decode -> embed, batched, with per-input errors: the one path from image files (or tensors) to DeCLIP
embeddings, used by the batch scorer (`declip_core.scoring`, both engines, and `score_files` / `embed_files`) and,
through the same per-batch function, training-side caches.

Three layers, each usable alone:

* `decode_views(source, cfg, views, max_pixels)`: one input -> one tensor of views per view policy.
  A source is a path (`str`/`os.PathLike`), an `EncodedImage` (bytes + a name, e.g. from object
  storage or a Hugging Face dataset) or a `(3, H, W)` float tensor in 0..1. Files are read by
  `declip_core.io` (EXIF rotation, 16-bit, CMYK, alpha, palette, decompression-bomb guard). The image
  is decoded ONCE and every requested view policy is cut from it.
* `embed_decoded(declip, items, outputs)`: the per-batch function. All views of all inputs of a batch
  go through ONE backbone pass (the views of several metrics share it); a failing batch is retried
  input by input so only a culprit is reported; non-finite outputs are reported, not returned.
* `embed_stream(inputs, declip, ...)`: an iterator of batches over a lazy iterable of inputs
  (never materialised: a generator over a 10-million-line file is fine). Decoding runs in
  `workers` DataLoader processes that receive (index, source) pairs from this process, so only
  about `batch_size * workers * 2` inputs are in flight. A decoder process that dies (a crashing
  codec) costs only the input it was decoding: the inputs in flight are retried one at a time in a
  fresh process. Results come back in input order.

Shapes and dtypes (P = declip.perceptual_dim, S = declip.semantic_dim, D = backbone feature size
that the disentangler reads, K_v = number of views of view policy v for that image, 1 or 5):
`Embedded.perceptual[v]` (K_v, P) float32, L2-normalised rows; `.semantic[v]` (K_v, S) float32;
`.features[v]` (K_v, D) float32; all on the CPU. Failed inputs have `error` set and empty tuples.
"""
from __future__ import annotations

import collections
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence, Union

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from declip_core.backbones.base import PreprocessConfig
from declip_core.io import DEFAULT_MAX_PIXELS, ImageLoadError, load_image, load_image_bytes
from declip_core.transforms import pil_resize, pil_to_tensor01
from declip_core.views import ViewPolicy, make_views, pil_fragment_mosaic

if TYPE_CHECKING:
    from declip_core.inference import DeCLIP

_HERE = "declip_core/embed.py"
OUTPUTS = ("perceptual", "semantic", "features", "grid")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class EncodedImage:
    """An encoded image file held in memory: `key` names it in results and errors."""

    key: str
    data: bytes


Source = Union[str, "os.PathLike[str]", EncodedImage, torch.Tensor]
# A view spec: a ViewPolicy (declip_core.views: 'crops' or 'resize', cut from the decoded image by
# tensor maths), or None: the backbone's own PIL resize (what DeCLIP.embed_pil does).
ViewSpec = Union[ViewPolicy, None]


def source_key(source: Source, index: int) -> str:
    """How an input is named in results: the path as given, EncodedImage.key, or '<tensor INDEX>'."""
    if isinstance(source, EncodedImage):
        return source.key
    if isinstance(source, torch.Tensor):
        return f"<tensor {index}>"
    return os.fspath(source)


def _load(source: Source, max_pixels: int) -> Image.Image | torch.Tensor:
    if isinstance(source, EncodedImage):
        return load_image_bytes(source.data, source.key, max_pixels)
    if isinstance(source, torch.Tensor):
        if source.ndim != 3 or source.shape[0] != 3 or not source.is_floating_point():
            raise ImageLoadError("<tensor>", f"expected a (3, H, W) float tensor in 0..1, got "
                                             f"{tuple(source.shape)} {source.dtype}")
        return source.detach().float().cpu().clamp(0.0, 1.0)
    path = os.fspath(source)
    if Path(path).is_dir():
        raise ImageLoadError(path, "is a folder (list its images, e.g. with declip_core.scoring.sources)")
    return load_image(path, max_pixels=max_pixels)


def _views_of(img: Image.Image | torch.Tensor, cfg: PreprocessConfig, view: ViewSpec) -> torch.Tensor:
    """(K, 3, S, S) float32 in 0..1 (not normalised) for one view spec."""
    if view is None:
        if isinstance(img, torch.Tensor):
            from declip_core.transforms import resize_tensor01

            return resize_tensor01(img.unsqueeze(0), cfg)
        return pil_to_tensor01(pil_resize(img, cfg)).unsqueeze(0)
    if isinstance(img, Image.Image) and view.policy == "fragments":  # native fragments, cut in 8 bits
        from declip_core.transforms import resize_tensor01

        return resize_tensor01(pil_fragment_mosaic(img, view).unsqueeze(0), cfg)  # (1, 3, S, S)
    if isinstance(img, Image.Image):
        w, h = img.size
        if min(w, h) > view.max_side:  # shrink in PIL first: a 50-MP float tensor is not needed
            s = view.max_side / min(w, h)
            img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BICUBIC)
        x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)
    else:
        x = img
    return make_views(x.unsqueeze(0), view, cfg)[0]


def decode_views(source: Source, cfg: PreprocessConfig, views: Sequence[ViewSpec],
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[torch.Tensor, ...]:
    """Decode one input once and cut every view spec from it: a tuple with, per spec, (K_v, 3, S, S)
    float32 in 0..1 (S = cfg.image_size). Raises ImageLoadError (missing, folder, corrupt, truncated,
    not an image, over `max_pixels`, a tensor of the wrong shape)."""
    img = _load(source, max_pixels)
    return tuple(_views_of(img, cfg, v) for v in views)


@dataclass
class Decoded:
    """One input after decoding: views per view spec, or the reason it failed."""

    index: int
    key: str
    views: tuple[torch.Tensor, ...] = ()
    error: str | None = None


@dataclass
class Embedded:
    """One input's result. index: position in the input stream; key: see source_key; error: None
    when embedded, else the reason. Per view spec (same order as asked): perceptual (K_v, P),
    semantic (K_v, S), features (K_v, D), float32 on the CPU; only the outputs asked for are filled."""

    index: int
    key: str
    error: str | None = None
    perceptual: tuple[torch.Tensor, ...] = ()
    semantic: tuple[torch.Tensor, ...] = ()
    features: tuple[torch.Tensor, ...] = ()
    grid: tuple[torch.Tensor, ...] = ()  # per view spec: per-cell features (K_v, C, D) (DeCLIP.grid_features)
    extra: dict[str, Any] = field(default_factory=dict)


def decode_item(index: int, source: Source, cfg: PreprocessConfig, views: Sequence[ViewSpec],
                max_pixels: int, decode: Callable[..., tuple[torch.Tensor, ...]] = decode_views) -> Decoded:
    """decode_views with the failure turned into a Decoded.error (never raises for a bad input)."""
    key = source_key(source, index)
    try:
        return Decoded(index, key, decode(source, cfg, views, max_pixels))
    except ImageLoadError as e:
        return Decoded(index, key, error=e.reason)
    except Exception as e:  # noqa: BLE001 - a decoder bug in one file must not end the run; reported per input
        return Decoded(index, key, error=f"could not decode ({type(e).__name__}: {e})")


def model_device(model: torch.nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def _forward(declip: DeCLIP, x01: torch.Tensor, outputs: Sequence[str], precision: str
             ) -> dict[str, torch.Tensor]:
    """(N, 3, S, S) in 0..1 -> {output: (N, ...) float32 on the CPU}; one backbone pass."""
    dev = model_device(declip)
    dtype = PRECISIONS[precision]
    ctx = torch.autocast(dev.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    with torch.inference_mode(), ctx:
        out: dict[str, torch.Tensor] = {}
        if "grid" in outputs:  # (N, D) and per-cell (N, C, D) from one backbone pass
            feats, out["grid"] = declip.grid_features(x01.to(dev), checked=False)
        else:
            feats = declip.features(x01.to(dev), checked=False)  # (N, D) one backbone pass
        if "perceptual" in outputs or "semantic" in outputs:
            e = declip.embed_features(feats)
            if "perceptual" in outputs:
                out["perceptual"] = e.perceptual
            if "semantic" in outputs:
                out["semantic"] = e.semantic
        if "features" in outputs:
            out["features"] = feats
    return {k: v.float().cpu() for k, v in out.items()}


def _worker_died(e: BaseException) -> bool:
    """torch raises RuntimeError('DataLoader worker (pid ...) exited unexpectedly / is killed by signal'), or
    'DataLoader timed out after N seconds' when no batch came within the loader's timeout (a stuck worker)."""
    return isinstance(e, RuntimeError) and ("DataLoader worker" in str(e) or "DataLoader timed out" in str(e))


def thread_safe_start_method() -> str:
    """The start method for decode processes while other threads of this process run (e.g. declip-score's
    progress bar counting the inputs): 'forkserver' ('spawn' where there is none). A fork would copy the
    locks those threads hold (the import lock of a PIL plugin being loaded) and the child would wait on
    them forever. Processes started so need a picklable `decode`."""
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def embed_decoded(declip: DeCLIP, items: Sequence[Decoded], outputs: Sequence[str] = ("perceptual",),
                  precision: str = "fp32") -> list[Embedded]:
    """The per-batch function: decoded inputs -> one Embedded per input, in the same order.

    All views of all decoded inputs go through one backbone pass (one `declip.backbone.encode_image`
    call); if it raises (e.g. out of memory) the inputs are retried one by one and only the ones that
    still fail get an error ('forward pass failed (...)'); an input with a non-finite output gets
    'non-finite output'. precision: 'fp32', or 'bf16'/'fp16' autocast on the model's device.
    """
    _check_outputs(outputs, precision)
    res = [Embedded(d.index, d.key, error=d.error) for d in items]
    ok = [j for j, d in enumerate(items) if d.error is None]
    if not ok:
        return res
    sizes = [[len(v) for v in items[j].views] for j in ok]  # per input, per spec: K_v
    try:
        x = torch.cat([v for j in ok for v in items[j].views])  # (sum K, 3, S, S)
        y = _forward(declip, x, outputs, precision)
        counts = [sum(s) for s in sizes]
        split = {k: torch.split(v, counts) for k, v in y.items()}
        parts: list[dict[str, torch.Tensor] | None] = [{k: split[k][n] for k in y} for n in range(len(ok))]
    except RuntimeError:  # e.g. out of memory: one by one, so only a culprit is reported
        parts = []
        for j in ok:
            try:
                parts.append(_forward(declip, torch.cat(items[j].views), outputs, precision))
            except RuntimeError as e1:
                res[j].error = f"forward pass failed ({e1})"
                parts.append(None)
    for j, s, part in zip(ok, sizes, parts):
        if part is None:
            continue
        if not all(bool(torch.isfinite(v).all()) for v in part.values()):
            res[j].error = "non-finite output"
            continue
        for k, v in part.items():
            setattr(res[j], k, tuple(torch.split(v, s)))
    return res


def _check_outputs(outputs: Sequence[str], precision: str) -> None:
    bad = [o for o in outputs if o not in OUTPUTS]
    if bad or not outputs:
        raise ValueError(f"{_HERE}: outputs must be a non-empty subset of {OUTPUTS}, got {list(outputs)}")
    if precision not in PRECISIONS:
        raise ValueError(f"{_HERE}: precision must be one of {tuple(PRECISIONS)}, got {precision!r}")


class _Inputs(Dataset):
    """A 'map-style' dataset whose indices ARE the inputs: item (index, source) -> Decoded (decoding runs
    where the DataLoader puts it: a worker process, or this one)."""

    def __init__(self, cfg: PreprocessConfig, views: Sequence[ViewSpec], max_pixels: int,
                 decode: Callable[..., tuple[torch.Tensor, ...]]) -> None:
        self.cfg, self.views, self.max_pixels, self.decode = cfg, tuple(views), max_pixels, decode

    def __getitem__(self, item: tuple[int, Source]) -> Decoded:
        return decode_item(item[0], item[1], self.cfg, self.views, self.max_pixels, self.decode)

    def __len__(self) -> int:  # never asked for by the DataLoader (the sampler has no length)
        raise TypeError("a streamed input set has no length")


class _Dispatch:
    """Sampler over the lazy input iterator; remembers the inputs handed out and not yet received."""

    def __init__(self, it: Iterator[tuple[int, Source]]) -> None:
        self.it = it
        self.in_flight: collections.deque[tuple[int, Source]] = collections.deque()

    def __iter__(self) -> Iterator[tuple[int, Source]]:
        while True:
            try:
                item = next(self.it)
            except StopIteration:
                return
            self.in_flight.append(item)
            yield item

    def received(self, n: int) -> None:
        for _ in range(n):
            self.in_flight.popleft()


def _ignore_sigint(_: int) -> None:
    """Decode processes leave Ctrl-C to the main process (which stops the run and writes what it has);
    otherwise a worker ended by the same Ctrl-C would look like a crashed decoder."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Ctrl-C inside the block is held and raised as KeyboardInterrupt when it ends. A DataLoader iterator cut
    off while it starts its worker processes is left half-built, and torch then prints an error from its
    __del__ ("'_MultiProcessingDataLoaderIter' object has no attribute '_shutdown'") after the run's own
    message. Only in the main thread with Python's default Ctrl-C handler; elsewhere the block runs as is."""
    import threading

    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    hits: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: hits.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if hits:
        raise KeyboardInterrupt


def _loader(ds: _Inputs, sampler: _Dispatch, batch_size: int, workers: int, isolate: bool,
            timeout: float = 0.0, start_method: str | None = None) -> DataLoader:
    kw: dict[str, Any] = {"prefetch_factor": 1 if isolate else 2, "worker_init_fn": _ignore_sigint,
                          "multiprocessing_context": start_method, "timeout": timeout} if workers else {}
    return DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers,  # type: ignore[arg-type]
                      collate_fn=list, **kw)


def decode_stream(inputs: Iterable[Source], cfg: PreprocessConfig, views: Sequence[ViewSpec], batch_size: int = 32,
                  workers: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS, start_index: int = 0,
                  decode: Callable[..., tuple[torch.Tensor, ...]] = decode_views, timeout: float = 0.0,
                  start_method: str | None = None) -> Iterator[list[Decoded]]:
    """Lazy inputs -> batches of Decoded in input order, decoded in `workers` DataLoader processes
    (0: here). Indices count from start_index. start_method: how they start (None: the platform's
    default, a fork on Linux; pass thread_safe_start_method() while other threads of this process run).
    A decoder process that dies costs only its input (error 'the decoder process died on this file (...)').
    timeout > 0 (seconds; workers only): a watchdog: when no batch arrives within it, the inputs in flight
    are retried one at a time in a fresh process and one that is still stuck becomes an error row
    ('decoding took longer than ... s'); 0: wait forever."""
    if timeout < 0:
        raise ValueError(f"{_HERE}: timeout must be >= 0 seconds, got {timeout}")
    if batch_size < 1:
        raise ValueError(f"{_HERE}: batch_size must be >= 1, got {batch_size}")
    if workers < 0:
        raise ValueError(f"{_HERE}: workers must be >= 0, got {workers}")
    ds = _Inputs(cfg, views, max_pixels, decode)
    main = _Dispatch(iter(enumerate(inputs, start_index)))
    if workers == 0:  # no process to lose: decode here
        batch: list[Decoded] = []
        for item in main:
            batch.append(ds[item])
            main.received(1)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    retry: collections.deque[tuple[int, Source]] = collections.deque()
    while True:
        isolate = bool(retry)  # after a crash: the inputs that were in flight, one at a time, one process
        sampler = _Dispatch(_drain(retry)) if isolate else main
        try:
            loader = _loader(ds, sampler, 1 if isolate else batch_size, 1 if isolate else workers, isolate, timeout,
                             start_method)
            with _sigint_deferred():  # the iterator starts the decode processes
                batches = iter(loader)
            for items in batches:
                sampler.received(len(items))
                yield items
        except RuntimeError as e:
            if not _worker_died(e):
                raise
            pending = list(sampler.in_flight)
            sampler.in_flight.clear()
            if isolate and pending:  # one input in flight in one process: that input killed it
                i, src = pending.pop(0)
                why = (f"decoding took longer than {timeout:g} s (a stuck decoder; its process was stopped)"
                       if "timed out" in str(e) else f"the decoder process died on this file ({e})")
                yield [Decoded(i, source_key(src, i), error=why)]
            retry.extendleft(reversed(pending))
            continue
        if not isolate:
            return


def _drain(dq: collections.deque[tuple[int, Source]]) -> Iterator[tuple[int, Source]]:
    while dq:
        yield dq.popleft()


def _check_specs(views: Sequence[ViewSpec]) -> tuple[ViewSpec, ...]:
    if isinstance(views, ViewPolicy) or views is None:
        raise ValueError(f"{_HERE}: views must be a sequence of view specs (ViewPolicy or None), e.g. [ViewPolicy()]")
    views = tuple(views)
    if not views or not all(v is None or isinstance(v, ViewPolicy) for v in views):
        raise ValueError(f"{_HERE}: views must be a non-empty sequence of ViewPolicy or None, got {views!r}")
    return views


def embed_stream(inputs: Iterable[Source], declip: DeCLIP, views: Sequence[ViewSpec] = (None,),
                 outputs: Sequence[str] = ("perceptual",), batch_size: int = 32, workers: int = 1,
                 max_pixels: int = DEFAULT_MAX_PIXELS, precision: str = "fp32", start_index: int = 0
                 ) -> Iterator[list[Embedded]]:
    """THE public decode -> embed function: lazy inputs -> batches (lists) of Embedded, in input order.

    Args:
        inputs: paths, EncodedImage or (3, H, W) float tensors in 0..1, any iterable (read lazily).
        declip: a DeCLIP (declip_core.inference); its device is used, its preprocessing is the resize rule.
        views: view specs, each a ViewPolicy ('crops': native-resolution crops, 'resize': one view) or
            None (the backbone's PIL resize, = DeCLIP.embed_pil). One decode serves all of them and all
            their views go through one backbone pass.
        outputs: any of 'perceptual' (K_v, P), 'semantic' (K_v, S), 'features' (K_v, D), float32.
        batch_size: inputs per batch (the backbone sees sum of their views); workers: decode processes.
        max_pixels: decompression-bomb guard; precision: 'fp32', 'bf16' or 'fp16' (autocast).
        start_index: index given to the first input.
    Yields: lists of Embedded, one per input, every input exactly once; failures carry `error`.
    Raises: ValueError for bad arguments (never for a bad input).
    """
    views = _check_specs(views)
    _check_outputs(outputs, precision)
    cfg = preprocess_config(declip)
    for items in decode_stream(inputs, cfg, views, batch_size, workers, max_pixels, start_index):
        yield embed_decoded(declip, items, outputs, precision)


def preprocess_config(model: torch.nn.Module) -> PreprocessConfig:
    """The resize rule of a DeCLIP (DeCLIP.preprocess_config) or of a model holding one (model.declip)."""
    declip = getattr(model, "declip", model)
    cfg = getattr(declip, "preprocess_config", None)
    if not isinstance(cfg, PreprocessConfig):
        raise ValueError(f"{_HERE}: expected a QualityModel or a DeCLIP (its preprocess_config is the "
                         f"resize rule); got {type(model).__name__}")
    return cfg
