"""Scoped torch settings for training code: a seed or a thread count that holds for one call only.

torch keeps its default RNG and its intra-op thread count per process. Training functions that need a seeded
RNG (module initialisation, dropout) or a thread count use these helpers, so the caller's state is restored
when they return: nothing leaks into the process that called them (a ComfyUI server, a test session).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with `n` intra-op threads (None: leave as is); the previous count is restored."""
    if n is None:
        yield
        return
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def isolated_rng(fn: F) -> F:
    """Decorator: `fn` may seed torch's default RNGs (torch.manual_seed); the caller's RNG state (CPU and CUDA)
    is saved before the call and restored after it, so seeding inside never changes the caller's random stream."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch.random.fork_rng(devices=_cuda_devices()):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def run_interruptible(run: Callable[[object], int], args: object) -> int:
    """A training command's body `run(args)` -> its exit status; Ctrl-C (or SIGTERM turned into it) ends it with
    one line on stderr and status 130, no traceback: what is finished (caches, parts) stays, and the same
    command resumes."""
    import sys

    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted: finished parts are kept; run the same command to resume", file=sys.stderr, flush=True)
        return 130
