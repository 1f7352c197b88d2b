"""Aesthetic phrases (composition, lighting, colour harmony...) from attribute scores, an AVA-style
mean score, or the name of an offline weak aesthetic negative. Never names image content."""
from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ._grammar import check_rng, choose, join_list, with_article
from .vocab import PHOTO_NOUNS

AESTHETIC_ATTRIBUTES: tuple[str, ...] = ("composition", "lighting", "colour_harmony", "depth_of_field", "vivid_colour")
# AADB attribute names -> ours (several may map to one; their scores are averaged).
AADB_ALIASES: Mapping[str, str] = MappingProxyType({
    "BalacingElements": "composition", "BalancingElements": "composition", "RuleOfThirds": "composition",
    "Symmetry": "composition", "Repetition": "composition", "ColorHarmony": "colour_harmony",
    "Light": "lighting", "DoF": "depth_of_field", "VividColor": "vivid_colour",
})
# AADB attributes deliberately not described: Content/Object rate subject matter (a semantic matter,
# and naming it would leak content); MotionBlur is a technical property covered by distortion texts.
AADB_IGNORED: frozenset[str] = frozenset({"Content", "Object", "MotionBlur"})

# Attribute scores lie in [-1, 1] (AADB scale): < -0.2 weak, -0.2..0.2 neutral, >= 0.2 strong.
SCORE_EDGES: tuple[float, ...] = (-0.2, 0.2)
AESTHETIC_WORDS: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType({
    "composition": (
        ("awkward composition", "clumsy framing", "unbalanced composition", "a cluttered arrangement"),
        ("ordinary composition", "conventional framing", "unremarkable composition"),
        ("well-balanced composition", "strong composition", "thoughtful framing", "a pleasing arrangement"),
    ),
    "lighting": (
        ("harsh lighting", "unflattering light", "poor lighting"),
        ("ordinary lighting", "plain lighting", "unremarkable light"),
        ("beautiful light", "flattering lighting", "well-controlled lighting", "dramatic lighting"),
    ),
    "colour_harmony": (
        ("clashing colours", "discordant colours", "jarring colour combinations"),
        ("an ordinary colour palette", "unremarkable colours"),
        ("harmonious colours", "a pleasing colour palette", "well-matched colours"),
    ),
    "depth_of_field": (
        ("a distracting background", "a busy background", "poor separation from the background"),
        ("ordinary depth of field", "an unremarkable background"),
        ("pleasing background blur", "a shallow depth of field", "clean subject separation"),
    ),
    "vivid_colour": (
        ("drab colours", "lacklustre colour"),
        ("moderately lively colour", "average colour intensity"),
        ("lively colours", "rich, lively colour", "glowing colour"),
    ),
})

# AVA mean score in [1, 10]: < 4 | 4..5 | 5..6 | 6..7 | >= 7.
AVA_EDGES: tuple[float, ...] = (4.0, 5.0, 6.0, 7.0)
AVA_WORDS: tuple[tuple[str, ...], ...] = (
    ("aesthetically unappealing", "unattractive", "visually unappealing"),
    ("plain", "unremarkable", "visually ordinary"),
    ("pleasant", "reasonably appealing", "fairly pleasing"),
    ("attractive", "appealing", "aesthetically pleasing"),
    ("striking", "stunning", "beautifully crafted", "gorgeous"),
)

# Offline weak negatives (see declip_core/training/data/aesthetic_ops.py).
NEGATIVE_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bad_crop": ("an awkward crop that cuts off the main subject", "the subject cut off at the edge of the frame",
                 "clumsy, off-centre cropping", "a crop that slices through the subject"),
    "tilted_horizon": ("a tilted horizon", "crooked framing", "a slanted, off-level horizon",
                       "an unintentionally tilted view"),
    "washed_out": ("washed-out colours", "lifted, milky shadows", "faded, greyish tones",
                   "a weak, low-contrast look"),
})


def _real(name: str, v: object, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    if not lo <= float(v) <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {v!r}")
    return float(v)


def canonical_scores(scores: Mapping[str, float]) -> Mapping[str, float]:
    """Map our or AADB attribute names to ours, averaging aliases; AADB_IGNORED keys are dropped."""
    sums: dict[str, list[float]] = {}
    for key, v in scores.items():
        if key in AADB_IGNORED:
            continue
        name = key if key in AESTHETIC_ATTRIBUTES else AADB_ALIASES.get(key)
        if name is None:
            raise ValueError(f"unknown aesthetic attribute {key!r}; expected {AESTHETIC_ATTRIBUTES} or AADB names")
        sums.setdefault(name, []).append(_real(f"score {key!r}", v, -1.0, 1.0))
    return MappingProxyType({k: sum(vs) / len(vs) for k, vs in sums.items()})


def ava_bucket(ava_mean: float) -> int:
    """Bucket index 0..4 of an AVA-style mean score in [1, 10]."""
    return bisect_right(AVA_EDGES, _real("ava_mean", ava_mean, 1.0, 10.0))


def aesthetic_text(
    rng: np.random.Generator,
    *,
    scores: Mapping[str, float] | None = None,
    ava_mean: float | None = None,
    negative: str | None = None,
) -> str:
    """Describe aesthetics from attribute scores and/or an AVA mean, or a named weak negative alone."""
    rng = check_rng(rng)
    if negative is not None:
        if scores is not None or ava_mean is not None:
            raise ValueError("give either negative or scores/ava_mean, not both")
        if negative not in NEGATIVE_WORDS:
            raise ValueError(f"unknown aesthetic negative {negative!r}; expected one of {tuple(NEGATIVE_WORDS)}")
        phrases = [choose(rng, NEGATIVE_WORDS[negative])]
        adj = None
    else:
        if scores is None and ava_mean is None:
            raise ValueError("aesthetic_text needs scores, ava_mean or negative")
        canon = canonical_scores(scores or {})
        names = [n for n in AESTHETIC_ATTRIBUTES if n in canon]
        names = [names[int(i)] for i in rng.permutation(len(names))]
        phrases = [choose(rng, AESTHETIC_WORDS[n][bisect_right(SCORE_EDGES, canon[n])]) for n in names]
        adj = None if ava_mean is None else choose(rng, AVA_WORDS[ava_bucket(ava_mean)])
        if not phrases and adj is None:
            raise ValueError("scores held only ignored attributes and no ava_mean was given")
    return _frame(phrases, adj, rng)


def _frame(phrases: list[str], adj: str | None, rng: np.random.Generator) -> str:
    noun = choose(rng, PHOTO_NOUNS)
    if adj is None:
        body = join_list(phrases, rng)
        return choose(rng, (body, f"{with_article(noun)} with {body}", f"the {noun} has {body}",
                            f"aesthetics: {body}"))
    if not phrases:
        return choose(rng, (with_article(f"{adj} {noun}"), f"the {noun} is {adj}", f"{adj} overall"))
    body = join_list(phrases, rng)
    return choose(rng, (f"{with_article(f'{adj} {noun}')} with {body}", f"{adj}, with {body}",
                        f"the {noun} is {adj}, with {body}"))
