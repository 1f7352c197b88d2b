"""Render one planned job into (PNG bytes, manifest fields). Runs in worker processes."""
from __future__ import annotations

import hashlib
import io
import json
import math
from functools import lru_cache

import numpy as np
from PIL import Image

from declip_core.training.data.aesthetic_ops import make_aesthetic_negative
from declip_core.training.data.distortions import Applied, apply_chain
from declip_core.training.data.i2t.plan import Job
from declip_core.training.data.texts import (
    measure_attributes,
    perceptual_text_from_attributes,
    perceptual_text_from_distortions,
    perceptual_text_from_mos,
)
from declip_core.training.data.texts.attributes import bucket_attributes
from declip_core.io import load_rgb_array

LEVEL_DROP = 0.18  # quality target: each distortion at level l multiplies quality by (1 - 0.18 l)


def quality_target(chain: tuple[tuple[str, int], ...]) -> float:
    """Technical-quality pseudo-label in 0..1 derived from the applied distortions (1 = pristine)."""
    q = 1.0
    for _, lv in chain:
        q *= 1.0 - LEVEL_DROP * lv
    return q


def perc_key(job: Job, attr_sig: str = "") -> str:
    """Canonical perceptual condition; samples sharing it are positives for each other."""
    if job.kind == "distort":
        return "+".join(f"{n}:{lv}" for n, lv in sorted(job.chain))
    if job.kind == "aes_neg":
        return f"aes_neg:{job.aes_neg}"
    return "clean"


@lru_cache(maxsize=8)
def _photo(path: str) -> np.ndarray:
    return load_rgb_array(path)


def crop_resize(img: np.ndarray, box: tuple[int, int, int, int] | None, size: int) -> np.ndarray:
    """Crop (if a box) and resize so the shorter side is `size` (aspect kept for whole images)."""
    im = Image.fromarray(img)
    if box is not None:
        im = im.crop(box).resize((size, size), Image.Resampling.LANCZOS)
    else:
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
    return np.asarray(im)


def render(job: Job, photo_path: str, size: int, label: dict) -> tuple[bytes, dict]:
    """The stored image and its manifest fields (without file_name / sample_id)."""
    rng = np.random.default_rng(job.seed)
    base = crop_resize(_photo(photo_path), job.crop, size)
    weak, aesthetic, quality = False, math.nan, math.nan
    if job.kind == "clean":
        img = base
        if rng.random() < 0.5:
            text, origin = perceptual_text_from_attributes(measure_attributes(img), rng), "attributes"
        else:
            text, origin = perceptual_text_from_distortions([], rng), "distortion"
        quality, aesthetic = 1.0, 0.75
        key = "clean"
    elif job.kind == "distort":
        img = apply_chain(base, [Applied(n, lv) for n, lv in job.chain], seed=job.seed)
        text, origin = perceptual_text_from_distortions(list(job.chain), rng), "distortion"
        quality = quality_target(job.chain)
        aesthetic = 0.75 * math.sqrt(quality)
        key = perc_key(job)
    elif job.kind == "aes_neg":
        neg = make_aesthetic_negative(base, job.aes_neg, job.seed)
        img, text, origin, weak, aesthetic = neg.image, neg.text, "aesthetic_negative", True, 0.35
        key = perc_key(job)
    elif job.kind == "labelled":
        img = base
        text, origin, key = label.get("perceptual_text"), "human", ""
        mos = label.get("mos")
        if text:
            key = "human:" + hashlib.sha256(text.encode()).hexdigest()[:12]
        elif mos is not None and not math.isnan(mos):
            from declip_core.training.data.texts import mos_bucket

            text, origin, key = perceptual_text_from_mos(mos, rng), "mos", f"mos:{mos_bucket(mos)}"
        else:
            raise ValueError(f"{photo_path}: a labelled record needs a perceptual text or a MOS")
    else:
        raise ValueError(f"unknown job kind {job.kind!r}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", compress_level=1)
    fields = {
        "perceptual_text": text,
        "text_origin": origin,
        "perc_key": key,
        "distortions": json.dumps([[n, lv] for n, lv in job.chain]),
        "quality": float(quality),
        "mos": float(label.get("mos", math.nan) if label.get("mos") is not None else math.nan),
        "aesthetic": float(aesthetic),
        "weak": weak,
        "split": job.split,
    }
    return buf.getvalue(), fields


def attr_signature(img: np.ndarray) -> str:
    """Bucketed attributes of a photo, e.g. 'sharpness=3,noise=1,...' (for the data card)."""
    return ",".join(f"{k}={v}" for k, v in sorted(bucket_attributes(measure_attributes(img)).items()))
