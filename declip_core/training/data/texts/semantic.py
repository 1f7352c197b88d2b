"""Semantic texts (what an image shows): captioner protocol, user captions, label-based captions.

Semantic texts never carry quality words (see quality_words.QUALITY_WORDS): user captions and
label names are passed through `clean_semantic_text`, and the sentence frames use none.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from ._grammar import article, choose
from .clean_caption import clean_semantic_text

LabelProbs = Sequence[tuple[str, float]]
# {a1}/{l1}: top-1 article and label; {a2}/{l2}: runner-up.
_ONE: tuple[str, ...] = (
    "a photo of {a1} {l1}", "an image of {a1} {l1}", "a picture showing {a1} {l1}", "{a1} {l1}",
    "a photograph of {a1} {l1}", "this shows {a1} {l1}",
)
_TWO: tuple[str, ...] = (
    "a photo of {a1} {l1}, possibly {a2} {l2}", "an image of {a1} {l1}, or perhaps {a2} {l2}",
    "{a1} {l1}, maybe {a2} {l2}", "a picture of what looks like {a1} {l1} or {a2} {l2}",
    "a photograph of {a1} {l1}, which might also be {a2} {l2}", "probably {a1} {l1}, possibly {a2} {l2}",
)


@runtime_checkable
class Captioner(Protocol):
    """Anything that writes one semantic caption per image."""

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        """One caption per image, in order."""
        ...


def clean_label(label: str) -> str:
    """A class name made safe for captions: first synonym only, quality words removed."""
    if not isinstance(label, str):
        raise ValueError(f"label must be a string, got {type(label).__name__}")
    cleaned = clean_semantic_text(label.split(",")[0].strip())
    if not cleaned:
        raise ValueError(f"label {label!r} is empty once quality words are removed")
    return cleaned


def _prob(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise ValueError(f"label probability must be a number, got {p!r}")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"label probability must be in [0, 1], got {p!r}")
    return float(p)


def label_sentence(topk: LabelProbs, rng: np.random.Generator, second_min_prob: float = 0.1) -> str:
    """'a photo of a tabby cat, possibly an Egyptian cat' from (label, prob) pairs, best first."""
    if len(topk) == 0:
        raise ValueError("label_sentence needs at least one (label, prob) pair")
    ranked = sorted(((clean_label(lbl), _prob(p)) for lbl, p in topk), key=lambda lp: -lp[1])
    l1, _ = ranked[0]
    alt = next(((lbl, p) for lbl, p in ranked[1:] if lbl != l1), None)
    if alt is not None and alt[1] >= second_min_prob:
        l2 = alt[0]
        return choose(rng, _TWO).format(a1=article(l1), l1=l1, a2=article(l2), l2=l2)
    return choose(rng, _ONE).format(a1=article(l1), l1=l1)


def _sentence_rng(seed: int, topk: LabelProbs) -> np.random.Generator:
    """A generator fixed by the seed and the labels, so one image always gets the same wording."""
    key = "|".join(lbl for lbl, _ in topk).encode("utf-8")
    return np.random.default_rng([seed, zlib.crc32(key)])


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return seed


def _default_key(img: Image.Image) -> str:
    name = getattr(img, "filename", "")
    if not name:
        raise ValueError("image has no filename; pass key= to UserCaptions")
    return Path(name).name


class UserCaptions:
    """Captions supplied by the dataset, looked up per image and cleaned of quality words."""

    def __init__(self, captions: Mapping[str, str], key: Callable[[Image.Image], str] = _default_key) -> None:
        self._captions = dict(captions)
        self._key = key

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        """The cleaned user caption of each image (key: file name unless `key` says otherwise)."""
        out = []
        for img in images:
            k = self._key(img)
            if k not in self._captions:
                raise ValueError(f"no user caption for {k!r}")
            text = clean_semantic_text(self._captions[k])
            if not text:
                raise ValueError(f"user caption for {k!r} is empty once quality words are removed")
            out.append(text)
        return out


class LabelCaptioner:
    """Captions from a classifier: label_fn(images) -> top-k (label, prob) per image."""

    def __init__(self, label_fn: Callable[[Sequence[Image.Image]], Sequence[LabelProbs]], seed: int = 0) -> None:
        self._label_fn = label_fn
        self._seed = _check_seed(seed)

    @property
    def seed(self) -> int:
        """The wording seed (part of the I&2T build's identity)."""
        return self._seed

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        """One sentence per image from its top-k labels."""
        preds = self._label_fn(images)
        if len(preds) != len(images):
            raise ValueError(f"label_fn returned {len(preds)} predictions for {len(images)} images")
        return [label_sentence(p, _sentence_rng(self._seed, p)) for p in preds]


def _as_matrix(x: object, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()  # type: ignore[union-attr]
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a finite non-empty 2-D array, got shape {arr.shape}")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name} has an all-zero row")
    return arr / norms


class ZeroShotCaptioner:
    """Captions from cosine similarity between image embeddings and label text embeddings."""

    def __init__(
        self,
        labels: Sequence[str],
        label_embeddings: object,
        encode_images: Callable[[Sequence[Image.Image]], object] | None = None,
        k: int = 2,
        logit_scale: float = 100.0,
        seed: int = 0,
    ) -> None:
        self._emb = _as_matrix(label_embeddings, "label_embeddings")
        if len(labels) != self._emb.shape[0]:
            raise ValueError(f"{len(labels)} labels but {self._emb.shape[0]} label embeddings")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(labels):
            raise ValueError(f"k must be an int in 1..{len(labels)}, got {k!r}")
        if not logit_scale > 0:
            raise ValueError(f"logit_scale must be > 0, got {logit_scale!r}")
        self._labels = tuple(labels)
        self._encode = encode_images
        self._k = k
        self._scale = float(logit_scale)
        self._seed = _check_seed(seed)

    def top_k(self, image_embeddings: object) -> list[list[tuple[str, float]]]:
        """Top-k (label, softmax prob over all labels) per image embedding."""
        img = _as_matrix(image_embeddings, "image_embeddings")
        if img.shape[1] != self._emb.shape[1]:
            raise ValueError(f"image embeddings have dim {img.shape[1]}, labels {self._emb.shape[1]}")
        logits = self._scale * img @ self._emb.T
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        order = np.argsort(-probs, axis=1, kind="stable")[:, : self._k]
        return [[(self._labels[j], float(p[j])) for j in row] for row, p in zip(order, probs)]

    @property
    def seed(self) -> int:
        """The wording seed (part of the I&2T build's identity)."""
        return self._seed

    def caption_embeddings(self, image_embeddings: object) -> list[str]:
        """One sentence per image embedding."""
        return [label_sentence(p, _sentence_rng(self._seed, p)) for p in self.top_k(image_embeddings)]

    def caption(self, images: Sequence[Image.Image]) -> list[str]:
        """Encode the images with `encode_images`, then caption their embeddings."""
        if self._encode is None:
            raise ValueError("this ZeroShotCaptioner has no encode_images; use caption_embeddings")
        return self.caption_embeddings(self._encode(images))
