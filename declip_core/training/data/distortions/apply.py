"""Applying distortions: one type, a chain of types, or a batch of chains."""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._image import check_image, make_rng
from .registry import check_level, get_function, get_spec
from .spec import Applied


def _check_seed(seed: object) -> int:
    """Validate a seed (non-negative int)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def apply_distortion(img: np.ndarray, name: str, level: int, seed: int = 0) -> np.ndarray:
    """Distort a uint8 (H, W, 3) RGB image with a registered type at level 1..5.

    Returns a new, writable uint8 (H, W, 3) array; the same (img, name, level, seed) always gives
    the same output. Raises ValueError for an unknown name, a bad level or seed, or a non-RGB-uint8 image.
    """
    spec = get_spec(name)
    lvl = check_level(level)
    rng = make_rng(_check_seed(seed), name)
    x = check_image(img)  # (H, W, 3)
    out = get_function(name)(x, spec.levels[lvl - 1], rng)
    if out.shape != x.shape or out.dtype != np.uint8:
        raise RuntimeError(f"{name} returned {out.dtype} {out.shape} for uint8 {x.shape}")
    if not out.flags.writeable or not out.flags.c_contiguous or np.shares_memory(out, img):
        out = np.array(out, order="C", copy=True)
    return out


def _check_chain(chain: Sequence[Applied]) -> tuple[Applied, ...]:
    """Validate every step of a chain before anything runs."""
    steps = tuple(chain)
    for step in steps:
        if not isinstance(step, Applied):
            raise ValueError(f"chain steps must be Applied(name, level), got {step!r}")
        get_spec(step.name)
        check_level(step.level)
    return steps


def step_seed(seed: int, index: int) -> int:
    """The seed used for step `index` of a chain run with `seed`."""
    return int(np.random.SeedSequence([_check_seed(seed), index]).generate_state(1)[0])


def apply_chain(img: np.ndarray, chain: Sequence[Applied], seed: int = 0) -> np.ndarray:
    """Apply the steps in order; step i uses step_seed(seed, i). An empty chain returns a copy."""
    steps = _check_chain(chain)
    out = check_image(img).copy()  # (H, W, 3)
    for i, step in enumerate(steps):
        out = apply_distortion(out, step.name, step.level, seed=step_seed(seed, i))
    return out


def apply_batch(
    imgs: Sequence[np.ndarray],
    chains: Sequence[Sequence[Applied]],
    seeds: Sequence[int],
    workers: int = 1,
) -> list[np.ndarray]:
    """apply_chain over aligned lists; workers > 1 uses threads (results independent of workers)."""
    if not len(imgs) == len(chains) == len(seeds):
        raise ValueError(f"imgs, chains and seeds differ in length: {len(imgs)}, {len(chains)}, {len(seeds)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    jobs = list(zip(imgs, [_check_chain(c) for c in chains], seeds, strict=True))
    if workers == 1 or len(jobs) <= 1:
        return [apply_chain(i, c, s) for i, c, s in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: apply_chain(*job), jobs))
