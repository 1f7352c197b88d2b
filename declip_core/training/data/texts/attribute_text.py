"""Perceptual texts from measured attributes: bucket each attribute, then describe it in words."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ._grammar import check_rng, choose
from .attributes import ATTRIBUTE_NAMES, ATTRIBUTE_THRESHOLDS, Attributes, bucket_attributes
from .compose import Clause, compose

# attribute -> bucket -> (predicative adjective phrases, noun phrases); bucket 0 is the lowest value.
_Words = tuple[tuple[str, ...], tuple[str, ...]]
ATTRIBUTE_WORDS: Mapping[str, tuple[_Words, ...]] = MappingProxyType({
    "sharpness": (
        (("very blurry", "badly lacking detail", "very out of focus"),
         ("almost no fine detail", "heavy blur", "no sharp detail")),
        (("slightly blurry", "slightly lacking detail", "a touch out of focus"),
         ("modest detail", "a slight lack of sharpness", "mildly blurred detail")),
        (("reasonably sharp", "acceptably focused", "fairly detailed"),
         ("decent sharpness", "adequate detail", "reasonable focus")),
        (("very sharp", "highly detailed", "in sharp focus"),
         ("excellent sharpness", "fine detail throughout", "precise focus")),
    ),
    "noise": (
        (("noise-free", "clean", "free of grain"), ("no visible noise", "clean tones", "no grain")),
        (("almost noise-free", "nearly grain-free"), ("faint grain", "a trace of noise", "barely any noise")),
        (("mildly grainy", "somewhat noisy"), ("some grain", "some noise", "moderate grain")),
        (("grainy", "noisy", "heavily grained"), ("strong grain", "plenty of noise", "heavy noise")),
    ),
    "exposure": (
        (("very dark", "heavily underexposed", "very dim"), ("very low brightness", "deep darkness", "strong underexposure")),
        (("dark", "dim", "slightly underexposed"), ("low brightness", "subdued brightness", "mild underexposure")),
        (("well exposed", "evenly exposed", "properly exposed"), ("balanced exposure", "good exposure", "even brightness")),
        (("bright", "brightly exposed", "slightly overexposed"), ("high brightness", "bright tones", "mild overexposure")),
        (("very bright", "overexposed", "blown out"), ("very high brightness", "strong overexposure", "blown highlights")),
    ),
    "contrast": (
        (("very low in contrast", "very dull in tone"), ("very low contrast", "almost no tonal range", "barely any tonal separation")),
        (("low in contrast", "somewhat dull in tone"), ("low contrast", "limited tonal range", "gentle contrast")),
        (("moderate in contrast", "balanced in tone"), ("moderate contrast", "balanced contrast", "natural contrast")),
        (("high in contrast", "contrasty"), ("high contrast", "strong contrast", "wide tonal range")),
    ),
    "colourfulness": (
        (("colourless", "monochrome", "almost greyscale"), ("no colour", "greyscale tones", "almost no colour")),
        (("muted in colour", "subdued in colour", "slightly colourful"), ("muted colours", "subdued colours", "scant colour")),
        (("moderately colourful", "naturally coloured"), ("moderate colour", "natural colours", "moderate saturation")),
        (("colourful", "vividly coloured", "richly coloured"), ("vivid colours", "rich colours", "strong colour")),
        (("highly colourful", "intensely coloured", "very vivid"), ("very vivid colours", "intense colours", "highly saturated colour")),
    ),
})


def _check_table() -> None:
    for name in ATTRIBUTE_NAMES:
        if len(ATTRIBUTE_WORDS[name]) != len(ATTRIBUTE_THRESHOLDS[name]) + 1:
            raise ValueError(f"ATTRIBUTE_WORDS[{name!r}] needs one entry per bucket")


_check_table()


def attribute_clause(name: str, level: int, rng: np.random.Generator) -> Clause:
    """Describe one attribute bucket, e.g. ('muted in colour', 'muted colours')."""
    adjectives, nouns = ATTRIBUTE_WORDS[name][level]
    adj = choose(rng, adjectives)
    return Clause(adj, choose(rng, nouns), adj if " " not in adj else None)


def perceptual_text_from_attributes(attrs: Attributes, rng: np.random.Generator) -> str:
    """Describe a photo's measured attributes (all five, in a random order and frame)."""
    rng = check_rng(rng)
    levels = bucket_attributes(attrs)
    names = [ATTRIBUTE_NAMES[int(i)] for i in rng.permutation(len(ATTRIBUTE_NAMES))]
    return compose([attribute_clause(n, levels[n], rng) for n in names], rng)
