"""Training data of the control demo: conditions, photo crops, distortions, the embedding cache, patch batches.

A training example is a 32x32 patch cut at native resolution from a distorted 256-px crop of an
offline training photo, with DeCLIP's perceptual embedding of the *whole* distorted crop as its
condition (or, with probability p_text, the embedding of a generated phrase describing that
distortion; with probability p_null, the all-zero "no condition"). Patches are not downscaled,
so blur and noise keep their pixel scale.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from declip_core.array_cache import ShardedArrayCache
from declip_core.io import image_size, load_rgb_array

HELDOUT_PHOTOS: tuple[str, ...] = ("china", "flower", "grace_hopper", "coffee")  # never trained on


@dataclass(frozen=True)
class Family:
    """A condition family: one distortion at rising levels 1..5 (level 0 is the clean image).

    attribute: the independent measure that should follow the level ("sharpness", "noise", "exposure").
    direction: expected sign of the Spearman correlation between level and attribute.
    phrases: the benchmark's phrase for each level 0..5.
    """

    name: str
    distortion: str
    attribute: str
    direction: int
    phrases: tuple[str, str, str, str, str, str]


# Benchmark phrases: one degree ladder for every family. None of them is an I&2T training phrase:
# the generator's degree words (LEVEL_ADVERBS) are avoided, and tests check there is no verbatim match.
_LADDER = ("a tiny bit", "a little", "clearly", "really", "completely")


def _phrases(clean: str, word: str) -> tuple[str, str, str, str, str, str]:
    a, b, c, d, e = (f"{deg} {word}" for deg in _LADDER)
    return (clean, a, b, c, d, e)


FAMILIES: dict[str, Family] = {
    "blur": Family("blur", "gaussian_blur", "sharpness", -1, _phrases("clean and sharp", "blurry")),
    "noise": Family("noise", "white_noise", "noise", +1, _phrases("clean, noise-free", "noisy")),
    "over": Family("over", "brighten", "exposure", +1, _phrases("well exposed", "overexposed")),
    "under": Family("under", "darken", "exposure", -1, _phrases("well exposed", "underexposed")),
}
LEVELS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Condition:
    """Clean (family None, level 0) or one family's distortion at level 1..5."""

    family: str | None
    level: int

    def __post_init__(self) -> None:
        if self.family is None:
            if self.level != 0:
                raise ValueError(f"the clean condition has level 0, got {self.level}")
        elif self.family not in FAMILIES or self.level not in LEVELS[1:]:
            raise ValueError(f"unknown condition {self.family!r} level {self.level}")

    @property
    def key(self) -> str:
        return "clean" if self.family is None else f"{self.family}{self.level}"

    @property
    def distortion(self) -> str | None:
        return None if self.family is None else FAMILIES[self.family].distortion


CONDITIONS: tuple[Condition, ...] = (Condition(None, 0),) + tuple(
    Condition(f, lv) for f in FAMILIES for lv in LEVELS[1:]
)


def condition_for(family: str, level: int) -> Condition:
    """Level 0 of any family is the clean condition."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {sorted(FAMILIES)}")
    if level not in LEVELS:
        raise ValueError(f"level must be in 0..5, got {level!r}")
    return Condition(None, 0) if level == 0 else Condition(family, level)


def train_photo_paths(min_side: int, photos: Sequence[Path] | None = None) -> list[Path]:
    """Offline photos (or `photos`) that are not held out and whose shorter side is >= min_side."""
    from declip_core.training.data.i2t.photos import offline_photo_paths

    out = []
    for p in (offline_photo_paths() if photos is None else photos):
        if p.stem in HELDOUT_PHOTOS:
            continue
        if min(image_size(p)) >= min_side:
            out.append(Path(p))
    if not out:
        raise ValueError(f"no training photos with a shorter side >= {min_side}")
    return out


def heldout_photo_paths() -> list[Path]:
    """The held-out offline photos, in HELDOUT_PHOTOS order; ValueError when one is missing."""
    from declip_core.training.data.i2t.photos import offline_photo_paths

    found = {p.stem: p for p in offline_photo_paths()}
    missing = [n for n in HELDOUT_PHOTOS if n not in found]
    if missing:
        raise ValueError(f"held-out photos not installed: {missing} (scikit-learn, scikit-image, matplotlib)")
    return [found[n] for n in HELDOUT_PHOTOS]


def random_crops(img: np.ndarray, n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """n random size x size crops of a (H, W, 3) image at native resolution."""
    h, w = img.shape[:2]
    if h < size or w < size:
        raise ValueError(f"image {h}x{w} is smaller than the crop size {size}")
    ys = rng.integers(0, h - size + 1, n)
    xs = rng.integers(0, w - size + 1, n)
    return [np.ascontiguousarray(img[y : y + size, x : x + size]) for y, x in zip(ys, xs)]


def distort(crop: np.ndarray, cond: Condition, seed: int) -> np.ndarray:
    """The crop under the condition's distortion (the crop itself when clean)."""
    from declip_core.training.data.distortions import apply_distortion

    return crop if cond.distortion is None else apply_distortion(crop, cond.distortion, cond.level, seed=seed)


@torch.no_grad()
def embed_uint8(declip: Any, images: Sequence[np.ndarray] | np.ndarray, batch: int = 32) -> torch.Tensor:
    """(N, P) float32 perceptual embeddings of uint8 (H, W, 3) images."""
    out = []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(np.stack(images[i : i + batch])).permute(0, 3, 1, 2).float() / 255.0  # (b, 3, H, W)
        out.append(declip.embed_images(x).perceptual.float().cpu())
    return torch.cat(out)


def training_phrases(n: int, seed: int) -> list[list[str]]:
    """n generated I&2T perceptual phrases per condition (CONDITIONS order), seeded."""
    from declip_core.training.data.texts.distortion_text import (
        perceptual_text_from_distortions,
    )

    rng = np.random.default_rng(seed)
    return [[perceptual_text_from_distortions([] if c.family is None else [(c.distortion, c.level)], rng)
             for _ in range(n)] for c in CONDITIONS]


@dataclass(frozen=True)
class CacheSpec:
    """What the cache holds; a cache built with another spec (or DeCLIP) is rebuilt."""

    crop: int = 256
    crops_per_photo: int = 8
    phrases_per_condition: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("crop", "crops_per_photo", "phrases_per_condition"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"CacheSpec.{name} must be a positive int, got {v!r}")


@dataclass
class ConditionCache:
    """images (N, S, S, 3) uint8; cond (N,) index into CONDITIONS; image_emb (N, P); text_emb (C, T, P)."""

    images: np.ndarray
    cond: np.ndarray
    photo: np.ndarray
    image_emb: torch.Tensor
    text_emb: torch.Tensor
    phrases: list[list[str]]
    photos: list[str]

    @property
    def perceptual_dim(self) -> int:
        return int(self.image_emb.shape[1])


CACHE_FORMAT = 2  # 2: arrays in a ShardedArrayCache (1 was cache.safetensors + images.npy; rebuilt)
_ARRAYS = ("images", "cond", "photo", "image_emb", "text_emb")


def _cache_meta(spec: CacheSpec, declip: Any, photos: Sequence[Path]) -> dict[str, Any]:
    return {"cache_format": CACHE_FORMAT, "spec": asdict(spec),
            "declip_sha256": getattr(declip, "checkpoint_sha256", None),
            "perceptual_dim": int(declip.perceptual_dim), "photos": [str(p) for p in photos],
            "conditions": [c.key for c in CONDITIONS]}


def build_cache(folder: str | Path, declip: Any, spec: CacheSpec, photos: Sequence[Path] | None = None,
                log: Callable[[str], None] = print) -> ConditionCache:
    """Load the cache in `folder` when it matches spec, DeCLIP and photos; else build and write it.

    Layout: `folder/cache.json` (what the cache holds, and the phrases; written last, so it marks a
    complete cache) and a ShardedArrayCache (declip_core.array_cache) in `folder/arrays/` holding
    images (N, S, S, 3) uint8 (memory-mapped on load), cond (N,), photo (N,), image_emb (N, P),
    text_emb (C, T, P).
    """
    folder = Path(folder)
    photos = train_photo_paths(spec.crop, photos)
    meta = _cache_meta(spec, declip, photos)
    js, arrays = folder / "cache.json", folder / "arrays"
    if js.is_file() and (arrays / "index.json").is_file():
        old = json.loads(js.read_text(encoding="utf-8"))
        store = ShardedArrayCache(arrays)
        if {k: old.get(k) for k in meta} == meta and not store.missing(_ARRAYS):
            images, cond, photo, image_emb, text_emb = store.get(_ARRAYS, mmap=True)
            log(json.dumps({"event": "cache", "status": "loaded", "path": str(folder), "images": int(len(cond))}))
            return ConditionCache(images, np.array(cond), np.array(photo), torch.from_numpy(np.array(image_emb)),
                                  torch.from_numpy(np.array(text_emb)), old["phrases"], old["photos"])
    if js.is_file() or (folder / "images.npy").is_file():
        log(json.dumps({"event": "cache", "status": "stale, rebuilding", "path": str(folder)}))
    folder.mkdir(parents=True, exist_ok=True)
    js.unlink(missing_ok=True)  # the json marks a complete cache; written last
    for old_file in ("images.npy", "cache.safetensors"):  # format 1
        (folder / old_file).unlink(missing_ok=True)
    # A new array store replaces the old one only once complete: a process that still maps the old
    # shards keeps reading them (their files are unlinked, not truncated).
    new = folder / f".arrays.{os.getpid()}"
    shutil.rmtree(new, ignore_errors=True)
    store = ShardedArrayCache(new)
    rng = np.random.default_rng(spec.seed)
    n = len(photos) * spec.crops_per_photo * len(CONDITIONS)
    tmp_npy = folder / f".images.{os.getpid()}.npy"
    images = np.lib.format.open_memmap(tmp_npy, mode="w+", dtype=np.uint8, shape=(n, spec.crop, spec.crop, 3))
    cond = np.zeros(n, dtype=np.int64)
    photo = np.zeros(n, dtype=np.int64)
    i = 0
    for pi, path in enumerate(photos):
        for crop in random_crops(load_rgb_array(path), spec.crops_per_photo, spec.crop, rng):
            for ci, c in enumerate(CONDITIONS):
                images[i] = distort(crop, c, seed=spec.seed * 1_000_003 + i)
                cond[i], photo[i] = ci, pi
                i += 1
    images.flush()
    log(json.dumps({"event": "cache", "status": "distorted", "images": n}))
    image_emb = embed_uint8(declip, images)  # (N, P)
    store.put(["images"], [images])
    del images
    tmp_npy.unlink()
    phrases = training_phrases(spec.phrases_per_condition, spec.seed)
    with torch.no_grad():
        flat = declip.embed_perceptual_text([p for ps in phrases for p in ps]).float().cpu()  # (C*T, P)
    text_emb = flat.view(len(CONDITIONS), spec.phrases_per_condition, -1)  # (C, T, P)
    for key, arr in (("cond", cond), ("photo", photo), ("image_emb", image_emb.numpy()), ("text_emb", text_emb.numpy())):
        store.put([key], [arr])
    shutil.rmtree(arrays, ignore_errors=True)
    os.replace(new, arrays)
    js.write_text(json.dumps({**meta, "phrases": phrases}, indent=1) + "\n", encoding="utf-8")
    log(json.dumps({"event": "cache", "status": "built", "path": str(folder), "images": n}))
    return ConditionCache(ShardedArrayCache(arrays).get(["images"], mmap=True)[0], cond, photo, image_emb, text_emb,
                          phrases, meta["photos"])


class PatchSampler:
    """Training batches: patches in -1..1 and their perceptual conditions (zeros = dropped).

    Conditions are drawn with the clean one weighted by the number of families, so each family's
    level 0 is as frequent as its other levels.
    """

    def __init__(self, cache: ConditionCache, patch: int = 32, p_text: float = 0.3, p_null: float = 0.1) -> None:
        for name, p in (("p_text", p_text), ("p_null", p_null)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if patch < 4 or patch > cache.images.shape[1]:
            raise ValueError(f"patch must be in 4..{cache.images.shape[1]}, got {patch}")
        self.cache, self.patch, self.p_text, self.p_null = cache, patch, p_text, p_null
        self.by_cond = [np.flatnonzero(cache.cond == ci) for ci in range(len(CONDITIONS))]
        if any(len(ix) == 0 for ix in self.by_cond):
            raise ValueError("the cache lacks images of some condition")
        w = np.array([len(FAMILIES) if c.family is None else 1 for c in CONDITIONS], dtype=np.float64)
        self.weights = w / w.sum()

    def batch(self, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(size, 3, p, p) patches in -1..1 and (size, P) conditions; deterministic given rng."""
        c, p = self.cache, self.patch
        side = c.images.shape[1]
        conds = rng.choice(len(CONDITIONS), size=size, p=self.weights)
        idx = np.array([self.by_cond[ci][rng.integers(len(self.by_cond[ci]))] for ci in conds])
        ys, xs = rng.integers(0, side - p + 1, size), rng.integers(0, side - p + 1, size)
        flip = rng.random(size) < 0.5
        patches = np.stack([c.images[i, y : y + p, x : x + p] for i, y, x in zip(idx, ys, xs)])  # (B, p, p, 3)
        patches[flip] = patches[flip, :, ::-1]
        x = torch.from_numpy(patches).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (B, 3, p, p)
        emb = c.image_emb[torch.from_numpy(idx)].clone()  # (B, P)
        use_text = rng.random(size) < self.p_text
        if use_text.any():
            t = rng.integers(0, c.text_emb.shape[1], size)
            rows = np.flatnonzero(use_text)
            emb[torch.from_numpy(rows)] = c.text_emb[torch.from_numpy(conds[rows]), torch.from_numpy(t[rows])]
        drop = torch.from_numpy(rng.random(size) < self.p_null)
        emb[drop] = 0.0
        return x, emb
