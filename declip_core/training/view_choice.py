"""Choosing declip_tech's view policy on validation photos (never on test photos).

Each candidate ViewPolicy scores every validation photo (at the sizes given) under a set of distortion
types at levels 0..5; the figure of merit is the mean within-ladder SRCC (and 2AFC), as in
benchmarks/bench_iqa.py. The winner is the cheapest policy (fewest backbone inputs per image) whose mean
SRCC is within `tolerance` (default 0.005) of the best, among the policies within an optional speed budget
(`max_views` backbone inputs per image; the shipped head uses 2, see docs/iqa.md): speed is half of what
users pick a metric by.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from declip_core.iqa.model import QualityModel
from declip_core.training.ranking import within_group_summary
from declip_core.views import ViewPolicy, n_views


@dataclass(frozen=True)
class PolicyResult:
    policy: ViewPolicy
    srcc: float
    afc2: float
    views_per_image: float
    seconds: float


def resize_short(rgb: np.ndarray, short: int) -> np.ndarray:
    """(H, W, 3) uint8 resized (Lanczos) so its shorter side is `short` (never upscaled)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    if min(h, w) <= short:
        return rgb
    s = short / min(h, w)
    im = Image.fromarray(rgb).resize((round(w * s), round(h * s)), Image.Resampling.LANCZOS)
    return np.asarray(im).copy()


def ladder_images(photos: dict[str, np.ndarray], types: Sequence[str], seed: int = 0
                  ) -> tuple[list[np.ndarray], list[int], list[str]]:
    """Images, levels and ladder ids 'photo|type' (clean = level 0 of every ladder, stored once per ladder
    so each image keeps its own size)."""
    from declip_core.training.data.distortions import N_LEVELS, apply_distortion

    ims, lv, grp = [], [], []
    for name, rgb in photos.items():
        for t in types:
            ims.append(rgb), lv.append(0), grp.append(f"{name}|{t}")
            for level in range(1, N_LEVELS + 1):
                ims.append(apply_distortion(rgb, t, level, seed=seed)), lv.append(level), grp.append(f"{name}|{t}")
    return ims, lv, grp


def score_with_policy(model: QualityModel, images: Sequence[np.ndarray], policy: ViewPolicy) -> np.ndarray:
    """(N,) scores of uint8 images of any sizes with `policy` (one image at a time: sizes differ)."""
    m = model
    old = m.views
    m.views = policy
    try:
        out = []
        with torch.inference_mode():
            for rgb in images:
                x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
                out.append(float(m(x)))
        return np.asarray(out)
    finally:
        m.views = old


def compare_policies(model: QualityModel, photos: dict[str, np.ndarray], types: Sequence[str],
                     policies: Sequence[ViewPolicy], log: Callable[[str], None] | None = None,
                     tolerance: float = 0.005, max_views: float | None = None) -> list[PolicyResult]:
    """Within-ladder SRCC / 2AFC of each policy on the photos' ladders, the chosen one first (rank_policies:
    within the `max_views` speed budget, the cheapest within `tolerance` of the best SRCC)."""
    ims, lv, grp = ladder_images(photos, types)
    out = []
    for p in policies:
        t0 = time.perf_counter()
        s = score_with_policy(model, ims, p)
        f = within_group_summary(s, lv, grp)
        nv = float(np.mean([n_views(im.shape[0], im.shape[1], p) for im in ims]))
        r = PolicyResult(p, f["srcc"], f["2afc"], nv, time.perf_counter() - t0)
        if log:
            log(f"{p.to_dict()}: SRCC {r.srcc:.3f} 2AFC {r.afc2:.3f} views/image {nv:.1f} ({r.seconds:.0f}s)")
        out.append(r)
    return rank_policies(out, tolerance, max_views)


def rank_policies(results: Sequence[PolicyResult], tolerance: float = 0.005,
                  max_views: float | None = None) -> list[PolicyResult]:
    """Results with the chosen policy first. Only policies with at most `max_views` backbone inputs per image
    (a speed budget; None = any) can be chosen: of those, the ones within `tolerance` of their best SRCC come
    first (cheapest first, then by SRCC), then the other affordable ones by SRCC, then the policies over the
    budget by SRCC. Raises ValueError on an empty list, a negative tolerance or a budget no policy meets."""
    if not results or tolerance < 0:
        raise ValueError(f"need results and tolerance >= 0, got {len(results)} results, tolerance {tolerance}")
    ok = [r for r in results if max_views is None or r.views_per_image <= max_views]
    if not ok:
        raise ValueError(f"no candidate policy has at most {max_views} views per image")
    best = max(r.srcc for r in ok)
    near = sorted((r for r in ok if r.srcc >= best - tolerance), key=lambda r: (r.views_per_image, -r.srcc))
    rest = sorted((r for r in ok if r.srcc < best - tolerance), key=lambda r: -r.srcc)
    over = sorted((r for r in results if r not in ok), key=lambda r: -r.srcc)
    return near + rest + over
