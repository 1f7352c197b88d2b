"""PERCEPTUAL_VOCAB: one read-only view of every word table the perceptual generators draw from."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from . import aesthetic as _aes
from . import attribute_text as _att
from . import attributes as _attrs
from . import compose as _compose
from . import distortion_vocab as _dist
from . import mos_text as _mos
from . import vocab as _vocab

PERCEPTUAL_VOCAB: Mapping[str, object] = MappingProxyType({
    "distortion_names": _dist.DISTORTION_NAMES,
    "attribute_families": _dist.ATTRIBUTE_FAMILIES,
    "distortion_words": _dist.DISTORTION_WORDS,
    "levels": _vocab.LEVELS,
    "level_adverbs": _vocab.LEVEL_ADVERBS,
    "level_adjectives": _vocab.LEVEL_ADJECTIVES,
    "photo_nouns": _vocab.PHOTO_NOUNS,
    "look_verbs": _vocab.LOOK_VERBS,
    "clean_adjectives": _vocab.CLEAN_ADJECTIVES,
    "clean_predicates": _vocab.CLEAN_PREDICATES,
    "clean_summaries": _vocab.CLEAN_SUMMARIES,
    "frame_spread": _compose.SPREAD_PHRASES,
    "frame_has": _compose.HAS_VERBS,
    "frame_labels": _compose.LABEL_WORDS,
    "attribute_names": _attrs.ATTRIBUTE_NAMES,
    "attribute_thresholds": _attrs.ATTRIBUTE_THRESHOLDS,
    "attribute_words": _att.ATTRIBUTE_WORDS,
    "mos_buckets": _mos.MOS_BUCKETS,
    "mos_edges": _mos.MOS_EDGES,
    "mos_words": _mos.MOS_WORDS,
    "aesthetic_attributes": _aes.AESTHETIC_ATTRIBUTES,
    "aesthetic_words": _aes.AESTHETIC_WORDS,
    "ava_edges": _aes.AVA_EDGES,
    "ava_words": _aes.AVA_WORDS,
    "negative_words": _aes.NEGATIVE_WORDS,
})


# Entries that hold identifiers (names of distortions, buckets, attributes), not words for texts.
_IDENTIFIERS = frozenset({"distortion_names", "attribute_families", "attribute_names", "aesthetic_attributes"})


def _strings(obj: object) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):  # values only: keys are identifiers
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (tuple, list, frozenset)):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, _dist.DistortionWords):
        yield from (*obj.adjectives, *obj.nouns)


def vocabulary_phrases() -> tuple[str, ...]:
    """Every phrase the perceptual generators can draw from PERCEPTUAL_VOCAB (identifiers excluded)."""
    return tuple(s for key, v in PERCEPTUAL_VOCAB.items() if key not in _IDENTIFIERS for s in _strings(v))
