"""Per-view perceptual embeddings of image files, decoded exactly as `score_files` decodes them.

An image is seen as the quality model sees it at scoring (`declip_core.views`; tech: native-resolution
256-px crops, aes: one resized view). Each view is a training row carrying its image's MOS; an image's
prediction is the mean over its views (`QualityModel.score_views`).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from declip_core.embed import embed_stream
from declip_core.inference import DeCLIP
from declip_core.training.feature_cache import backbone_key
from declip_core.views import ViewPolicy

_HERE = "declip_core/training/mos/embed.py"
CACHE_VERSION = 1


def declip_fingerprint(declip: DeCLIP, views: ViewPolicy | None = None) -> str:
    """What perceptual embeddings depend on: the checkpoint sha256 (or, for an unsaved model,
    the disentangler weights), the backbone key and the view policy."""
    vp = json.dumps(views.to_dict(), sort_keys=True) if views is not None else "none"
    h = hashlib.sha256(f"v{CACHE_VERSION}|{backbone_key(declip.backbone)}|{vp}".encode())
    if declip.checkpoint_sha256:
        h.update(declip.checkpoint_sha256.encode())
    else:
        for k, v in sorted(declip.disentangler.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _file_key(path: str) -> str:
    st = os.stat(path)
    ident = f"{Path(path).resolve()}|{st.st_mtime_ns}|{st.st_size}"
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def embed_views(paths: Sequence[str], declip: DeCLIP, views: ViewPolicy, batch_size: int = 32, workers: int = 1,
                output: str = "perceptual") -> tuple[list[int], list[np.ndarray], dict[str, str]]:
    """(ok indices, per ok image its (K, P) float32 view embeddings, errors path -> reason), by the one
    decode -> embed path (declip_core.embed.embed_stream: the decoding and views of the batch scorer,
    decoding in `workers` DataLoader processes, one bad file costs only itself).

    output: 'perceptual' (K, P) or 'features' (K, D_in), the backbone features a FeatureHead reads."""
    if batch_size < 1 or workers < 0:
        raise ValueError(f"{_HERE}: need batch_size >= 1 and workers >= 0, got {batch_size} and {workers}")
    if output not in ("perceptual", "features"):
        raise ValueError(f"{_HERE}: output must be 'perceptual' or 'features', got {output!r}")
    if declip.preprocess_config is None:
        raise ValueError(f"{_HERE}: backbone {declip.backbone.info.spec!r} has no preprocessing config")
    ok: list[int] = []
    out: list[np.ndarray] = []
    errors: dict[str, str] = {}
    with torch.inference_mode():
        for batch in embed_stream(list(paths), declip, views=[views], outputs=(output,),
                                  batch_size=batch_size, workers=workers):
            for e in batch:
                if e.error is not None:
                    errors[paths[e.index]] = e.error
                else:
                    ok.append(e.index)
                    out.append(getattr(e, output)[0].numpy().astype(np.float32))  # (K, P) or (K, D_in)
    return ok, out, errors


@dataclass
class ViewEmbeddings:
    """Per-view perceptual embeddings of M images: emb (V, P), owner (V,) = image index 0..M-1."""

    emb: np.ndarray
    owner: np.ndarray

    def __post_init__(self) -> None:
        if self.emb.ndim != 2 or self.owner.shape != (self.emb.shape[0],):
            raise ValueError(f"{_HERE}: emb (V, P) and owner (V,) do not match: "
                             f"{self.emb.shape} and {self.owner.shape}")

    @property
    def n_images(self) -> int:
        return int(self.owner.max()) + 1 if self.owner.size else 0

    def subset(self, idx: Sequence[int] | np.ndarray) -> ViewEmbeddings:
        """Views of images idx (renumbered 0..len(idx)-1 in that order)."""
        ix = np.asarray(idx, dtype=np.int64)
        rows = [np.flatnonzero(self.owner == i) for i in ix]
        sel = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        owner = np.concatenate([np.full(len(r), k) for k, r in enumerate(rows)]) if rows else sel
        return ViewEmbeddings(self.emb[sel], owner.astype(np.int64))

    def image_mean(self, per_view: np.ndarray) -> np.ndarray:
        """(V,) values -> (M,) mean over each image's views."""
        n = self.n_images
        return np.bincount(self.owner, weights=per_view, minlength=n) / np.bincount(self.owner, minlength=n)
