"""Small English helpers shared by the text generators: articles, lists, seeded choice."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

_WORD = re.compile(r"[a-z0-9]+")
# Vowel letters that are spoken as a consonant ("a unicycle", "a European", "a one-off").
_CONSONANT_SOUND = ("uni", "use", "usu", "eu", "one", "ure", "uti")
# Consonant letters that are silent ("an hour", "an honest").
_VOWEL_SOUND = ("hour", "honest", "honou", "honor", "heir")


def check_rng(rng: object) -> np.random.Generator:
    """Return `rng` if it is a numpy Generator, else raise ValueError."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def choose(rng: np.random.Generator, options: Sequence[T]) -> T:
    """One element of a non-empty sequence, drawn uniformly."""
    if len(options) == 0:
        raise ValueError("cannot choose from an empty sequence")
    return options[int(rng.integers(len(options)))]


def article(word: str) -> str:
    """'a' or 'an' for the word that follows (by its spoken first sound, roughly)."""
    w = word.strip().lower()
    if not w:
        raise ValueError("article() needs a non-empty word")
    if w.startswith(_VOWEL_SOUND):
        return "an"
    if w[0] in "aeiou" and not w.startswith(_CONSONANT_SOUND):
        return "an"
    return "a"


def with_article(phrase: str) -> str:
    """Prefix a noun phrase with 'a'/'an'."""
    return f"{article(phrase)} {phrase}"


def join_list(items: Sequence[str], rng: np.random.Generator) -> str:
    """Join phrases as 'x, y and z', 'x, y, z' or 'x; y; z' (style drawn from rng)."""
    if len(items) == 0:
        raise ValueError("join_list needs at least one item")
    if len(items) == 1:
        return items[0]
    style = int(rng.integers(3))
    if style == 0:
        return ", ".join(items[:-1]) + " and " + items[-1]
    if style == 1:
        return ", ".join(items)
    return "; ".join(items)


def words(text: str) -> list[str]:
    """Lowercase alphanumeric word tokens ('low-quality' -> ['low', 'quality'])."""
    return _WORD.findall(text.lower())
