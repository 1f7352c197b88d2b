"""Perceptual texts from distortion chains: (name, level) pairs -> varied natural description."""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from ._grammar import check_rng, choose, join_list, with_article
from .compose import Clause, clause, compose
from .distortion_vocab import DISTORTION_WORDS
from .vocab import (
    CLEAN_ADJECTIVES,
    CLEAN_PREDICATES,
    CLEAN_SUMMARIES,
    LEVEL_ADJECTIVES,
    LEVEL_ADVERBS,
    LEVELS,
    LOOK_VERBS,
    PHOTO_NOUNS,
)


def _check_level(name: str, level: object) -> int:
    if isinstance(level, bool) or not isinstance(level, numbers.Integral):
        raise ValueError(f"level of {name!r} must be an int in 1..5, got {level!r}")
    if int(level) not in LEVELS:
        raise ValueError(f"level of {name!r} must be in 1..5, got {level}")
    return int(level)


def normalise_chain(chain: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """Validate a chain; repeated names keep their highest level at their first position."""
    merged: dict[str, int] = {}
    for item in chain:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"chain items must be (name, level) pairs, got {item!r}")
        name, level = item
        if name not in DISTORTION_WORDS:
            raise ValueError(f"unknown distortion {name!r}; expected one of {tuple(DISTORTION_WORDS)}")
        lvl = _check_level(name, level)
        merged[name] = max(lvl, merged.get(name, 0))
    return list(merged.items())


def distortion_clause(name: str, level: int, rng: np.random.Generator) -> Clause:
    """Describe one distortion at one level, e.g. ('noticeably blurred', 'noticeable blur')."""
    words = DISTORTION_WORDS[name]
    noun = f"{choose(rng, LEVEL_ADJECTIVES[level])} {choose(rng, words.nouns)}"
    adjective = choose(rng, words.adjectives) if words.adjectives else None
    return clause(choose(rng, LEVEL_ADVERBS[level]), adjective, noun)


def clean_image_text(rng: np.random.Generator) -> str:
    """A varied description of an undistorted image ('a sharp, well-exposed photo')."""
    rng = check_rng(rng)
    k = int(rng.integers(2, 4))
    adjs = [str(a) for a in rng.choice(CLEAN_ADJECTIVES, size=k, replace=False)]
    preds = [str(p) for p in rng.choice(CLEAN_PREDICATES, size=k, replace=False)]
    noun = choose(rng, PHOTO_NOUNS)
    style = int(rng.integers(5))
    if style == 0:
        return with_article(f"{', '.join(adjs)} {noun}")
    if style == 1:
        return f"the {noun} {choose(rng, LOOK_VERBS)} {join_list(preds, rng)}"
    if style == 2:
        return f"{join_list(adjs, rng)}, {choose(rng, CLEAN_SUMMARIES)}"
    if style == 3:
        return f"{with_article(adjs[0] + ' ' + noun)} with {choose(rng, CLEAN_SUMMARIES)}"
    return join_list(preds, rng)


def perceptual_text_from_distortions(chain: Sequence[tuple[str, int]], rng: np.random.Generator) -> str:
    """Describe how an image with this distortion chain looks; an empty chain reads as clean."""
    rng = check_rng(rng)
    items = normalise_chain(chain)
    if not items:
        return clean_image_text(rng)
    if rng.random() < 0.5:  # most severe first, otherwise a random order
        items.sort(key=lambda it: -it[1])
    else:
        items = [items[int(i)] for i in rng.permutation(len(items))]
    return compose([distortion_clause(n, lvl, rng) for n, lvl in items], rng)
