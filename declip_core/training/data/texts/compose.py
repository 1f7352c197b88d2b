"""Turn a list of described properties (clauses) into one sentence, with a seeded choice of frame."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ._grammar import choose, join_list, with_article
from .vocab import LOOK_VERBS, PHOTO_NOUNS

# Multi-word adjectives that may stand before a noun once hyphenated; others stay predicative only.
_PRENOMINAL: Mapping[str, str] = MappingProxyType({
    "out of focus": "out-of-focus",
    "blown out": "blown-out",
})
SPREAD_PHRASES: tuple[str, ...] = ("throughout the image", "across the frame", "in the picture", "all over the image")
HAS_VERBS: tuple[str, ...] = ("shows", "has", "exhibits", "displays")
LABEL_WORDS: tuple[str, ...] = ("appearance", "visual character", "how it looks")


@dataclass(frozen=True)
class Clause:
    """One described property: a predicative phrase (optional) and a noun phrase."""

    adjective: str | None  # e.g. "noticeably blurred"
    noun: str  # e.g. "noticeable blur"
    prenominal: str | None = None  # e.g. "noticeably blurred" when it may precede "photo"


def clause(degree: str, adjective: str | None, noun: str) -> Clause:
    """Build a clause from a degree word + adjective (or None) and a full noun phrase."""
    if adjective is None:
        return Clause(None, noun)
    pre = adjective if " " not in adjective else _PRENOMINAL.get(adjective)
    # Multi-word degree words ("a bit") read badly before a noun ("a bit blurred photo").
    prenominal = None if pre is None or " " in degree.strip() else f"{degree} {pre}".strip()
    return Clause(f"{degree} {adjective}".strip(), noun, prenominal)


def _mixed(clauses: Sequence[Clause], rng: np.random.Generator) -> str:
    """'noticeably blurred, with mild blocking; slightly underexposed' (adjectives and 'with' groups)."""
    segments: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            body = join_list(pending, rng) if len(pending) < 3 else ", ".join(pending)
            segments.append(body if not segments else f"with {body}")
            pending.clear()

    for i, c in enumerate(clauses):
        if c.adjective is not None and (i == 0 or rng.random() < 0.5):
            flush()
            segments.append(c.adjective)
        else:
            pending.append(c.noun)
    flush()
    sep = choose(rng, (", ", "; "))
    return sep.join(segments)


def _adjective_first(clauses: Sequence[Clause]) -> list[Clause] | None:
    """The clauses with one that has an adjective moved to the front, or None if none has one."""
    for i, c in enumerate(clauses):
        if c.adjective is not None:
            return [c, *clauses[:i], *clauses[i + 1:]]
    return None


def _t_bare(clauses: Sequence[Clause], rng: np.random.Generator) -> str | None:
    return _mixed(clauses, rng)


def _t_looks(clauses: Sequence[Clause], rng: np.random.Generator) -> str | None:
    ordered = _adjective_first(clauses)
    if ordered is None:
        return None
    return f"the {choose(rng, PHOTO_NOUNS)} {choose(rng, LOOK_VERBS)} {_mixed(ordered, rng)}"


def _t_prenominal(clauses: Sequence[Clause], rng: np.random.Generator) -> str | None:
    if len(clauses) > 3 or any(c.prenominal is None for c in clauses):
        return None
    adjs = ", ".join(c.prenominal for c in clauses if c.prenominal is not None)
    return with_article(f"{adjs} {choose(rng, PHOTO_NOUNS)}")


def _t_with(clauses: Sequence[Clause], rng: np.random.Generator) -> str | None:
    return f"{with_article(choose(rng, PHOTO_NOUNS))} with {join_list([c.noun for c in clauses], rng)}"


def _t_spread(clauses: Sequence[Clause], rng: np.random.Generator) -> str | None:
    return f"{join_list([c.noun for c in clauses], rng)} {choose(rng, SPREAD_PHRASES)}"


def _t_has(clauses: Sequence[Clause], rng: np.random.Generator) -> str | None:
    nouns = join_list([c.noun for c in clauses], rng)
    return f"the {choose(rng, PHOTO_NOUNS)} {choose(rng, HAS_VERBS)} {nouns}"


def _t_nouns(clauses: Sequence[Clause], rng: np.random.Generator) -> str | None:
    return join_list([c.noun for c in clauses], rng)


def _t_label(clauses: Sequence[Clause], rng: np.random.Generator) -> str | None:
    return f"{choose(rng, LABEL_WORDS)}: {join_list([c.noun for c in clauses], rng)}"


_Template = Callable[[Sequence[Clause], np.random.Generator], str | None]
TEMPLATES: tuple[_Template, ...] = (
    _t_bare, _t_looks, _t_prenominal, _t_with, _t_spread, _t_has, _t_nouns, _t_label,
)


def compose(clauses: Sequence[Clause], rng: np.random.Generator) -> str:
    """One sentence describing all clauses, in a frame drawn from rng (frames that cannot fit are skipped)."""
    if len(clauses) == 0:
        raise ValueError("compose needs at least one clause")
    order = rng.permutation(len(TEMPLATES))
    for idx in order:
        text = TEMPLATES[int(idx)](clauses, rng)
        if text is not None:
            return text
    raise ValueError("no template fits these clauses")  # unreachable: _t_nouns always fits
